"""Numbers, times and cursors beyond what the store can hold answer 422, never 500.

Each case here was a 500 (a traceback in the log, or a dropped connection for the
streamed export) before the API bounded it: SQLite overflows past 64 bits,
PostgreSQL's ``Integer`` past 32, and a time near year 1 or 9999 overflows when
converted to UTC.
"""

import pytest

from tests.api.helpers import activity, cursor_of, problems, start_external, wait_for_activity
from tests.support.process import CollectorProcess, wait_for

TOO_BIG = [2**31, 2**63, 10**30]


@pytest.mark.parametrize("run_id", [*TOO_BIG, 0, -1])
def test_run_ids_outside_the_id_range_are_422_at_the_path(
    collector: CollectorProcess, run_id: int
) -> None:
    for method, suffix, body in [
        ("GET", "", None),
        ("POST", "/cancel", None),
        ("POST", "/progress", {}),
        ("POST", "/finish", {"status": "success"}),
    ]:
        response = collector.api(method, f"/runs/{run_id}{suffix}", json=body)
        assert ("path", "run_id") in problems(response), (method, suffix)


def test_the_largest_id_is_merely_unknown(collector: CollectorProcess) -> None:
    response = collector.api("GET", f"/runs/{2**31 - 1}")
    assert response.status_code == 404, response.text
    assert response.json() == {"detail": f"unknown run {2**31 - 1}"}


@pytest.mark.parametrize("path", ["/activity/recent", "/activity/export"])
def test_activity_run_id_beyond_the_id_range_is_422(collector: CollectorProcess, path: str) -> None:
    for run_id in TOO_BIG:
        response = collector.api("GET", path, params={"run_id": run_id, "format": "ndjson"})
        assert ("query", "run_id") in problems(response)


@pytest.mark.parametrize("path", ["/runs", "/activity/recent", "/activity/export"])
@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("date_from", "0001-01-01T00:00:00+01:00", "out of range once converted to UTC"),
        ("date_to", "9999-12-31T23:59:59-01:00", "out of range once converted to UTC"),
        ("date_from", "0.5", "ISO 8601"),
        ("date_to", "1700000000", "ISO 8601"),
        ("date_to", "not a date", "datetime"),
    ],
)
def test_query_times_beyond_utc_or_not_iso_are_422(
    collector: CollectorProcess, path: str, name: str, value: str, message: str
) -> None:
    found = problems(collector.api("GET", path, params={name: value}))
    assert message in found[("query", name)]


@pytest.mark.parametrize("path", ["/runs", "/activity/recent"])
def test_the_extreme_representable_times_still_filter(
    collector: CollectorProcess, path: str
) -> None:
    for params in (
        {"date_from": "0001-01-01T00:00:00Z", "date_to": "9999-12-31T23:59:59.999999Z"},
        {"date_from": "2024-05-01T12:00:00", "date_to": "2024-05-01T14:00:00+02:00"},
    ):
        response = collector.api("GET", path, params=params)
        assert response.status_code == 200, response.text


def test_report_and_alert_times_beyond_utc_or_numeric_are_422(
    collector: CollectorProcess,
) -> None:
    for started_at in ("0001-01-01T00:00:00+01:00", 0, 1700000000.5, True):
        response = collector.api("POST", "/runs", json={"job": "ext", "started_at": started_at})
        assert ("body", "started_at") in problems(response), started_at

    run = start_external(collector)
    response = collector.api(
        "POST",
        f"/runs/{run['id']}/finish",
        json={"status": "success", "finished_at": "9999-12-31T23:59:59-01:00"},
    )
    assert ("body", "finished_at") in problems(response)
    assert collector.api("GET", f"/runs/{run['id']}").json()["status"] == "running"

    alert = {"status": "firing", "labels": {"alertname": "Bounds"}, "startsAt": 0}
    response = collector.api(
        "POST", "/alerts/webhook", json={"status": "firing", "alerts": [alert]}
    )
    assert ("body", "alerts", 0, "startsAt") in problems(response)


def test_alertmanagers_zero_end_time_is_accepted(collector: CollectorProcess) -> None:
    """A firing alert's ``endsAt`` is ``0001-01-01T00:00:00Z``: in range, and kept."""
    alert = {
        "status": "firing",
        "labels": {"alertname": "ZeroEnd", "severity": "warning"},
        "startsAt": "2024-05-01T12:00:00.123+02:00",
        "endsAt": "0001-01-01T00:00:00Z",
    }
    response = collector.api(
        "POST", "/alerts/webhook", json={"status": "firing", "alerts": [alert]}
    )
    assert response.status_code == 202, response.text
    (entry,) = wait_for_activity(collector, "the ZeroEnd alert entry", type="alert", q="ZeroEnd")
    assert entry["details"]["starts_at"] == "2024-05-01T10:00:00.123000+00:00"
    assert entry["details"]["ends_at"] == "0001-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    "cursor",
    [
        "é",  # not ASCII: base64 decoding raised ValueError
        "a b",
        cursor_of("²"),  # a digit to str.isdigit, not to int()
        cursor_of("9" * 25),  # beyond any id
    ],
)
def test_bad_run_cursors_are_422(collector: CollectorProcess, cursor: str) -> None:
    found = problems(collector.api("GET", "/runs", params={"cursor": cursor}))
    assert "cursor is not one this server returned" in found[("query", "cursor")]


@pytest.mark.parametrize(
    "cursor",
    [
        "é",
        cursor_of("2024-01-01|1"),  # a time without a zone
        cursor_of("0001-01-01T00:00:00+01:00|1"),  # before year 1 in UTC
        cursor_of("2024-01-01T00:00:00+00:00|" + "9" * 25),  # beyond any id
        cursor_of("2024-01-01T00:00:00+00:00|²"),
    ],
)
def test_bad_activity_cursors_are_422(collector: CollectorProcess, cursor: str) -> None:
    found = problems(collector.api("GET", "/activity/recent", params={"cursor": cursor}))
    assert "cursor is not one this server returned" in found[("query", "cursor")]


def test_cursors_the_server_returns_still_page(collector: CollectorProcess) -> None:
    first, second = start_external(collector), start_external(collector)
    page = collector.api("GET", "/runs", params={"job": "ext", "limit": 1, "cursor": ""}).json()
    assert [run["id"] for run in page["items"]] == [second["id"]]
    page = collector.api(
        "GET", "/runs", params={"job": "ext", "limit": 1, "cursor": page["next_cursor"]}
    ).json()
    assert [run["id"] for run in page["items"]] == [first["id"]]

    wait_for_activity(collector, "the second start's entry", run_id=second["id"])
    wait_for_activity(collector, "the first start's entry", run_id=first["id"])
    page = collector.api("GET", "/activity/recent", params={"job": "ext", "limit": 1}).json()
    newer = page["items"][0]
    page = collector.api(
        "GET", "/activity/recent", params={"job": "ext", "limit": 1, "cursor": page["next_cursor"]}
    ).json()
    assert page["items"][0]["id"] != newer["id"]
    assert page["items"][0]["timestamp"] <= newer["timestamp"]


def test_dashboard_patch_takes_whole_numbers_only_and_logs_real_changes(
    collector: CollectorProcess,
) -> None:
    before = collector.api("GET", "/config/dashboard").json()
    for bad in (True, False, "5", 5.0, 5.5, 31, -1):
        response = collector.api("PATCH", "/config/dashboard", json={"retention_days": bad})
        assert ("body", "retention_days") in problems(response), bad
    assert collector.api("GET", "/config/dashboard").json() == before

    logged = len(activity_changes(collector))
    for unchanged in ({}, {"retention_days": None}, {"retention_days": before["retention_days"]}):
        response = collector.api("PATCH", "/config/dashboard", json=unchanged)
        assert response.status_code == 200, response.text
        assert response.json() == before
    changed = {"auto_refresh_interval": 599 if before["auto_refresh_interval"] != 599 else 598}
    try:
        response = collector.api("PATCH", "/config/dashboard", json=changed)
        assert response.json() == {**before, **changed}
        # The change's entry is the only one since: the no-ops above logged nothing.
        entries = wait_for_activity_count(collector, logged + 1)
        assert entries[0]["details"]["after"] == {**before, **changed}
    finally:
        collector.api("PATCH", "/config/dashboard", json=before).raise_for_status()


def activity_changes(collector: CollectorProcess) -> list[dict]:
    return activity(collector, type="user_action", q="Dashboard config changed")


def wait_for_activity_count(collector: CollectorProcess, count: int) -> list[dict]:
    def reached() -> list[dict] | None:
        entries = activity_changes(collector)
        assert len(entries) <= count, entries
        return entries if len(entries) == count else None

    return wait_for(reached, what=f"{count} dashboard change entries")


def test_trigger_dry_run_must_be_a_boolean(collector: CollectorProcess) -> None:
    for bad in (0, 1, "true", None):
        response = collector.api("POST", "/jobs/echo/runs", json={"dry_run": bad})
        assert ("body", "dry_run") in problems(response), bad


@pytest.mark.parametrize(
    "accept",
    [
        "application/openmetrics-text; version=abc",
        "application/openmetrics-text;version=1.x",
    ],
)
def test_metrics_with_a_malformed_openmetrics_version_get_the_text_format(
    collector: CollectorProcess, accept: str
) -> None:
    response = collector.http.get("/metrics", headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "jobwatch_build_info" in response.text


def test_export_documents_the_media_types_it_streams(collector: CollectorProcess) -> None:
    schema = collector.http.get("/openapi.json").json()
    content = schema["paths"]["/api/v1/activity/export"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"text/csv", "application/x-ndjson"}
    for format, media in (("csv", "text/csv"), ("ndjson", "application/x-ndjson")):
        response = collector.api("GET", "/activity/export", params={"format": format})
        assert response.headers["content-type"].split(";")[0] == media
