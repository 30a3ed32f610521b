"""What JSON can carry but no column can store is refused where it came in, by name.

A NUL (``\\u0000``) is refused by PostgreSQL text columns and by ``execve``; a lone
surrogate (``\\ud800``) is not Unicode, and once stored made every list that
included the row fail to encode; NaN and Infinity are not JSON, and Python's JSON
parser accepts them. Before, these were 500s, runs that were recorded and then
failed to start, activity batches dropped on PostgreSQL, or lists broken for good.
Reports of external runs are the exception: they keep the text with the bad
characters replaced, since refusing a finish would lose what the run did.
"""

import json

import pytest

from tests.api.helpers import (
    dropped_by_write_errors,
    problems,
    raw,
    runs_of,
    start_external,
    wait_for_activity,
)
from tests.support.process import CollectorProcess

NUL = "a\x00b"
SURROGATE_JSON = '"a\\ud800b"'  # json.dumps cannot write a lone surrogate as text


def assert_lists_still_answer(collector: CollectorProcess) -> None:
    """Nothing unencodable got stored: the lists that would include it still render."""
    for path in ("/runs", "/activity/recent", "/activity/export"):
        response = collector.api("GET", path, params={"limit": 1000, "format": "ndjson"})
        assert response.status_code == 200, (path, response.text)
    assert dropped_by_write_errors(collector) == 0


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/runs", "job"),
        ("/activity/recent", "job"),
        ("/activity/recent", "q"),
        ("/activity/export", "job"),
        ("/activity/export", "q"),
    ],
)
def test_nul_in_a_text_filter_is_422(collector: CollectorProcess, path: str, name: str) -> None:
    found = problems(collector.api("GET", path, params={name: NUL}))
    assert "NUL" in found[("query", name)]


def test_trigger_params_with_unstorable_text_are_422_and_start_nothing(
    collector: CollectorProcess,
) -> None:
    before = len(runs_of(collector, "echo"))
    found = problems(collector.api("POST", "/jobs/echo/runs", json={"params": {"name": NUL}}))
    assert "NUL" in found[("body", "params", "name")]
    response = raw(
        collector,
        "POST",
        "/jobs/echo/runs",
        b'{"params": {"name": %s}}' % (SURROGATE_JSON.encode()),
    )
    assert "surrogate" in problems(response)[("body", "params", "name")]
    response = raw(collector, "POST", "/jobs/echo/runs", b'{"params": {"\\udfff": 1}}')
    assert list(problems(response)) == [("body", "params", "\ufffd")]
    assert len(runs_of(collector, "echo")) == before
    assert_lists_still_answer(collector)


@pytest.mark.parametrize(
    ("body", "name", "message"),
    [
        (b'{"ratio": NaN}', "ratio", "not a finite number"),
        (b'{"scale": Infinity}', "scale", "not a finite number"),
        (b'{"scale": -Infinity}', "scale", "not a finite number"),
        (b'{"scale": "nan"}', "scale", "expected a finite number"),
        (b'{"scale": "1e999"}', "scale", "expected a finite number"),
        (b'{"scale": 1' + b"0" * 400 + b"}", "scale", "number out of range"),
        (b'{"batch": Infinity}', "batch", "not a finite number"),
        (b'{"batch": "2", "ratio": 0.5, "scale": NaN}', "scale", "not a finite number"),
    ],
)
def test_trigger_params_beyond_finite_numbers_are_422_and_start_nothing(
    collector: CollectorProcess, body: bytes, name: str, message: str
) -> None:
    before = len(runs_of(collector, "echo"))
    found = problems(raw(collector, "POST", "/jobs/echo/runs", b'{"params": %s}' % body))
    assert message in found[("body", "params", name)]
    assert len(runs_of(collector, "echo")) == before


def test_every_bad_param_is_named_at_once(collector: CollectorProcess) -> None:
    body = b'{"params": {"scale": NaN, "ratio": 2, "name": "x\\u0000", "nope": 1}}'
    found = problems(raw(collector, "POST", "/jobs/echo/runs", body))
    assert set(found) == {("body", "params", name) for name in ("scale", "ratio", "name", "nope")}
    assert found[("body", "params", "ratio")] == "must be at most 1"
    assert found[("body", "params", "nope")].startswith("unknown param")


def test_valid_params_still_run(collector: CollectorProcess) -> None:
    body = {"params": {"name": "ok ünïcode ✓", "ratio": 0.5, "scale": -1e300, "batch": "7"}}
    response = collector.api("POST", "/jobs/echo/runs", json=body)
    assert response.status_code == 202, response.text
    run = collector.wait_run(response.json()["id"])
    assert run["status"] == "success", run
    assert run["params"] == {"name": "ok ünïcode ✓", "ratio": 0.5, "scale": -1e300, "batch": 7}


def test_external_start_with_unstorable_text_is_422_and_records_nothing(
    collector: CollectorProcess,
) -> None:
    before = len(runs_of(collector, "ext"))
    response = collector.api("POST", "/runs", json={"job": "ext", "client_run_id": NUL})
    assert "NUL" in problems(response)[("body", "client_run_id")]
    response = collector.api("POST", "/runs", json={"job": "ext", "params": {"note": NUL}})
    assert "NUL" in problems(response)[("body", "params", "note")]
    response = raw(collector, "POST", "/runs", b'{"job": "ext", "params": {"batch": NaN}}')
    assert ("body", "params", "batch") in problems(response)
    response = raw(collector, "POST", "/runs", b'{"job": %s}' % SURROGATE_JSON.encode())
    assert ("body", "job") in problems(response)
    assert len(runs_of(collector, "ext")) == before
    assert_lists_still_answer(collector)


def test_alert_labels_with_unstorable_text_are_422(collector: CollectorProcess) -> None:
    alert = {"status": "firing", "labels": {"alertname": NUL}}
    response = collector.api(
        "POST", "/alerts/webhook", json={"status": "firing", "alerts": [alert]}
    )
    assert "NUL" in problems(response)[("body", "alerts", 0, "labels", "alertname")]
    body = (
        b'{"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "x"},'
        b' "annotations": {"summary": %s}}]}' % SURROGATE_JSON.encode()
    )
    found = problems(raw(collector, "POST", "/alerts/webhook", body))
    assert "surrogate" in found[("body", "alerts", 0, "annotations", "summary")]
    assert_lists_still_answer(collector)


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/jobs/echo/runs", b'{"dry_run": NaN}', ("body", "dry_run")),
        ("/runs", b'{"job": "ext", "started_at": Infinity}', ("body", "started_at")),
        ("/runs", b'{"job": "ext", "client_run_id": %s}' % SURROGATE_JSON.encode(), None),
    ],
)
def test_a_422_can_echo_any_input(
    collector: CollectorProcess, path: str, body: bytes, loc: tuple | None
) -> None:
    """FastAPI echoes the bad input; NaN or a lone surrogate there made the 422 a 500."""
    found = problems(raw(collector, "POST", path, body))
    assert loc is None or loc in found


def test_external_reports_keep_unstorable_text_replaced(collector: CollectorProcess) -> None:
    run = start_external(collector)
    progress = collector.api("POST", f"/runs/{run['id']}/progress", json={"message": NUL})
    assert progress.status_code == 200, progress.text
    assert progress.json()["message"] == "a\ufffdb"

    finish = (
        b'{"status": "failed", "processed": 3, "error": "boom\\u0000", '
        b'"log_tail": "line 1\\nbinary \\u0000\\ud800 here\\n", "message": %s, '
        b'"result": {"k\\u0000": "\\udc80", "ratio": NaN, "rows": [1, Infinity, "ok"]}}'
        % SURROGATE_JSON.encode()
    )
    response = raw(collector, "POST", f"/runs/{run['id']}/finish", finish)
    assert response.status_code == 200, response.text
    stored = collector.api("GET", f"/runs/{run['id']}").json()
    assert stored["status"] == "failed"
    assert stored["records_processed"] == 3
    assert stored["error"] == "boom\ufffd"
    assert stored["message"] == "a\ufffdb"
    assert stored["log_tail"] == "line 1\nbinary \ufffd\ufffd here"
    assert stored["result"] == {"k\ufffd": "\ufffd", "ratio": None, "rows": [1, None, "ok"]}
    json.dumps(stored, allow_nan=False)

    # The finish was logged (on PostgreSQL a NUL there once dropped the activity batch).
    (entry,) = wait_for_activity(
        collector, "the finish entry", run_id=run["id"], status="error", type="job"
    )
    assert "boom\ufffd" in entry["message"]
    assert_lists_still_answer(collector)


def test_counts_beyond_the_column_are_422_and_leave_the_run_as_it_was(
    collector: CollectorProcess,
) -> None:
    run = start_external(collector)
    collector.api("POST", f"/runs/{run['id']}/progress", json={"processed": 5}).raise_for_status()
    for too_many in (2**31, 2**63):
        for what in ("progress", "finish"):
            body = (
                {"processed": too_many, "status": "success"}
                if what == "finish"
                else {"failed": too_many}
            )
            response = collector.api("POST", f"/runs/{run['id']}/{what}", json=body)
            found = problems(response)
            assert {("body", "processed"), ("body", "failed")} & set(found), found
    stored = collector.api("GET", f"/runs/{run['id']}").json()
    assert (stored["status"], stored["records_processed"]) == ("running", 5)
    ok = {"status": "success", "processed": 2**31 - 1}
    finished = collector.api("POST", f"/runs/{run['id']}/finish", json=ok)
    assert finished.status_code == 200, finished.text
    assert finished.json()["records_processed"] == 2**31 - 1
