"""Command jobs end to end: a real collector runs ``progress_sync.py`` through the HTTP API.

What a user of a sync relies on: the flags of the trigger's params reach argv, the
``@jobwatch`` totals become the run's counts (live while it runs and final after),
ordinary output is kept as the log tail, and the exit code and failed records decide
``success`` / ``partial`` / ``failed``. A trigger with bad params must cost nothing.
"""

import json
from pathlib import Path
from typing import Any

from tests.core.helpers import sync_job
from tests.support.process import CollectorProcess, wait_for

PARAMS = {
    "batch_size": {"type": "int", "default": 100, "min": 1, "max": 10000, "flag": "--batch-size"},
    "full": {"type": "bool", "flag": "--full"},
    "start_date": {"type": "date", "flag": "--start-date"},
    "mode": {"type": "choice", "choices": ["fast", "slow"]},
}


def _tail_value(run: dict[str, Any], prefix: str) -> str:
    lines = [line for line in run["log_tail"].splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, f"expected one {prefix!r} line in the log tail:\n{run['log_tail']}"
    return lines[0].removeprefix(prefix)


def test_sync_counts_flags_env_and_log_tail_arrive(
    collector_process: type[CollectorProcess], tmp_path: Path
) -> None:
    hold = tmp_path / "release"
    collector = collector_process(
        {"jobs": [sync_job("contacts", "--total", "20", "--hold", str(hold), params=PARAMS)]}
    ).start()

    response = collector.api(
        "POST", "/jobs/contacts/runs", json={"params": {"batch_size": "7", "full": True}}
    )
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    assert response.json()["params"] == {"batch_size": 7, "full": True}

    # The script pauses after its first batch: the API must already show that batch live.
    live = wait_for(
        lambda: (
            (run := collector.api("GET", f"/runs/{run_id}").json())["records_processed"] == 7
            and run
        ),
        what="the first batch's counts on the live run",
    )
    assert live["status"] == "running"
    assert (live["records_created"], live["records_updated"]) == (3, 4)
    hold.touch()

    run = collector.wait_run(run_id)
    assert run["status"] == "success", run
    assert run["error"] is None
    # --full doubled the 20 records; batches of 7: 5 x 7 + 5, half (rounded down) created.
    assert run["records_processed"] == 40
    assert run["records_created"] == 5 * 3 + 2
    assert run["records_updated"] == 5 * 4 + 3
    assert run["records_failed"] == 0
    assert run["message"] == "at 40"

    argv = json.loads(_tail_value(run, "argv "))
    assert argv == ["--total", "20", "--hold", str(hold), "--batch-size", "7", "--full"]
    assert _tail_value(run, "run_id ") == str(run_id)
    tail = run["log_tail"].splitlines()
    assert tail[-1] == "sync finished"
    assert "batch 6: 5 records" in tail
    assert "@jobwatch this is not json, so it is ordinary output" in tail
    assert not any(line.startswith("@jobwatch {") for line in tail), (
        "progress lines leaked into the tail"
    )
    assert run["duration_seconds"] is not None and run["duration_seconds"] > 0


def test_exit_code_fails_the_run_with_the_error_and_failed_records_make_it_partial(
    collector_process: type[CollectorProcess],
) -> None:
    collector = collector_process(
        {
            "jobs": [
                sync_job("broken", "--total", "5", "--exit", "3"),
                sync_job("lossy", "--total", "10", "--failed", "2"),
            ]
        }
    ).start()
    broken = collector.api("POST", "/jobs/broken/runs", json={}).json()["id"]
    lossy = collector.api("POST", "/jobs/lossy/runs", json={}).json()["id"]

    failed = collector.wait_run(broken)
    assert failed["status"] == "failed"
    assert failed["error"] == "exit code 3: error: upstream answered 503"
    assert failed["records_processed"] == 5, "counts reported before the failure are kept"

    partial = collector.wait_run(lossy)
    assert partial["status"] == "partial"
    assert partial["records_failed"] == 2
    assert partial["records_processed"] == 10
    assert partial["error"] == "2 record(s) failed"

    jobs = {job["name"]: job for job in collector.api("GET", "/jobs").json()}
    assert jobs["broken"]["last_status"] == "failed"
    assert jobs["lossy"]["last_status"] == "partial"
    assert jobs["lossy"]["success_ratio"] == 0.0


def test_bad_params_are_422_naming_each_field_and_start_nothing(
    collector_process: type[CollectorProcess], tmp_path: Path
) -> None:
    started = tmp_path / "started.txt"
    collector = collector_process(
        {"jobs": [sync_job("contacts", "--total", "3", "--started", str(started), params=PARAMS)]}
    ).start()

    bad_bodies: list[tuple[dict[str, Any], set[str]]] = [
        ({"params": {"batch_size": 0}}, {"batch_size"}),
        ({"params": {"batch_size": "many", "full": "perhaps"}}, {"batch_size", "full"}),
        ({"params": {"start_date": "yesterday", "mode": "turbo"}}, {"start_date", "mode"}),
        ({"params": {"batch_sise": 10}}, {"batch_sise"}),
        ({"params": {"batch_size": 10001}}, {"batch_size"}),
    ]
    for body, fields in bad_bodies:
        response = collector.api("POST", "/jobs/contacts/runs", json=body)
        assert response.status_code == 422, (body, response.text)
        detail = response.json()["detail"]
        assert {tuple(item["loc"]) for item in detail} == {("body", "params", f) for f in fields}
        assert all(item["msg"] for item in detail)
    not_a_mapping = collector.api("POST", "/jobs/contacts/runs", json={"params": [1, 2]})
    assert not_a_mapping.status_code == 422
    assert collector.api("POST", "/jobs/nope/runs", json={}).status_code == 404

    assert collector.api("GET", "/runs", params={"job": "contacts"}).json()["items"] == []
    assert not started.exists(), "a rejected trigger started the script"

    # The same job with good params does start, so the checks above could have failed.
    good = collector.api(
        "POST",
        "/jobs/contacts/runs",
        json={"params": {"batch_size": 1, "start_date": "2026-03-01"}},
    )
    assert good.status_code == 202, good.text
    run = collector.wait_run(good.json()["id"])
    assert run["status"] == "success"
    assert json.loads(_tail_value(run, "argv "))[-4:] == [
        "--batch-size",
        "1",
        "--start-date",
        "2026-03-01",
    ]
    assert started.read_text().split() == [str(run["id"])]
    assert [
        item["id"]
        for item in collector.api("GET", "/runs", params={"job": "contacts"}).json()["items"]
    ] == [run["id"]]

    # A dry run is recorded as one and never counts as a success of the job.
    dry = collector.api("POST", "/jobs/contacts/runs", json={"params": {}, "dry_run": True}).json()
    dry_run = collector.wait_run(dry["id"])
    assert (dry_run["status"], dry_run["dry_run"]) == ("success", True)
    job = collector.api("GET", "/jobs/contacts").json()
    assert job["last_run"]["id"] == dry["id"]
    assert job["last_success_at"] == run["finished_at"]
    assert job["success_ratio"] == 1.0
