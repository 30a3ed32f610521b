"""The report-in API against a real collector: idempotent starts, progress, finish, errors."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.external.conftest import runs_of
from tests.support.process import CollectorProcess, wait_for

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


def start(collector: CollectorProcess, **body: Any) -> httpx.Response:
    return collector.api("POST", "/runs", json=body)


def problem_locs(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [problem["loc"] for problem in response.json()["detail"]]


def test_a_retried_start_returns_the_same_run(collector: CollectorProcess) -> None:
    first = start(collector, job="with_params", client_run_id="cron-42", params={"batch": "5"})
    again = start(collector, job="with_params", client_run_id="cron-42", params={"batch": "5"})
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    run = first.json()
    assert again.json()["id"] == run["id"]
    assert run["status"] == "running"
    assert run["trigger"] == "external"
    assert run["params"] == {"batch": 5}
    same = [r["id"] for r in runs_of(collector, "with_params") if r["client_run_id"] == "cron-42"]
    assert same == [run["id"]]
    other = start(collector, job="with_params", client_run_id="cron-43")
    assert other.status_code == 201 and other.json()["id"] != run["id"]


def test_concurrent_retries_of_one_start_make_one_run(collector: CollectorProcess) -> None:
    def attempt(_: int) -> tuple[int, int]:
        response = start(collector, job="nightly", client_run_id="raced")
        return response.status_code, response.json()["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(attempt, range(8)))
    assert sorted(code for code, _ in answers) == [200] * 7 + [201]
    assert len({run_id for _, run_id in answers}) == 1
    assert len([r for r in runs_of(collector, "nightly") if r["client_run_id"] == "raced"]) == 1


def test_progress_and_finish_are_recorded_like_internal_runs(collector: CollectorProcess) -> None:
    run = start(collector, job="nightly").json()
    url = f"/runs/{run['id']}"
    progress = collector.api(
        "POST", f"{url}/progress", json={"processed": 10, "created": 4, "message": "page 1"}
    )
    assert progress.status_code == 200, progress.text
    collector.api("POST", f"{url}/progress", json={"processed": 25, "failed": 1})
    live = collector.api("GET", url).json()
    assert (live["status"], live["records_processed"], live["records_failed"]) == ("running", 25, 1)
    assert (live["records_created"], live["message"]) == (4, "page 1")
    finished = collector.api(
        "POST",
        f"{url}/finish",
        json={
            "status": "partial",
            "updated": 3,
            "error": "1 bad row",
            "log_tail": "a\nb",
            "result": {"pages": 3},
        },
    )
    assert finished.status_code == 200, finished.text
    view = finished.json()
    assert (view["status"], view["records_processed"]) == ("partial", 25)
    assert (view["records_created"], view["records_updated"]) == (4, 3)
    assert (view["error"], view["log_tail"], view["result"]) == ("1 bad row", "a\nb", {"pages": 3})
    again = collector.api("POST", f"{url}/finish", json={"status": "success"})
    assert again.status_code == 409 and "already ended partial" in again.json()["detail"]
    late = collector.api("POST", f"{url}/progress", json={"processed": 30})
    assert late.status_code == 409

    job = collector.api("GET", "/jobs/nightly").json()
    assert job["last_status"] == "partial"
    messages = wait_for(
        lambda: [
            entry["message"]
            for entry in collector.api(
                "GET", "/activity/recent", params={"job": "nightly", "limit": 1000}
            ).json()["items"]
            if entry["run_id"] == run["id"]
        ],
        what="activity entries of the run",
    )
    assert any(m.startswith(f"Run #{run['id']} of nightly started (external") for m in messages)
    wait_for(
        lambda: any(
            entry["message"].startswith(f"Run #{run['id']} of nightly ended partial")
            for entry in collector.api("GET", "/activity/recent", params={"job": "nightly"}).json()[
                "items"
            ]
        ),
        what="the 'ended' activity entry",
    )


def test_reported_times_and_trace_context_are_kept(collector: CollectorProcess) -> None:
    began = datetime.now(UTC) - timedelta(hours=2)
    ended = began + timedelta(minutes=3)
    run = collector.api(
        "POST",
        "/runs",
        json={"job": "nightly", "started_at": began.isoformat()},
        headers={"traceparent": TRACEPARENT},
    ).json()
    assert run["trace_id"] == TRACE_ID
    assert datetime.fromisoformat(run["started_at"]) == began
    done = collector.api(
        "POST",
        f"/runs/{run['id']}/finish",
        json={"status": "success", "finished_at": ended.isoformat()},
        headers={"traceparent": TRACEPARENT},
    ).json()
    assert datetime.fromisoformat(done["finished_at"]) == ended
    assert done["duration_seconds"] == 180.0


def test_an_external_run_that_never_finishes_times_out(collector: CollectorProcess) -> None:
    run = start(collector, job="short_lived").json()
    ended = collector.wait_run(run["id"], timeout=10)
    assert ended["status"] == "timed_out"
    assert ended["error"] == "no finish was reported within 1s"
    late = collector.api("POST", f"/runs/{run['id']}/finish", json={"status": "success"})
    assert late.status_code == 409


def test_unknown_jobs_and_runs_are_404(collector: CollectorProcess) -> None:
    response = start(collector, job="no_such_job")
    assert response.status_code == 404
    assert response.json()["detail"] == "unknown job 'no_such_job'"
    progress = collector.api("POST", "/runs/999999/progress", json={"processed": 1})
    finish = collector.api("POST", "/runs/999999/finish", json={"status": "success"})
    assert (progress.status_code, finish.status_code) == (404, 404)
    assert finish.json()["detail"] == "unknown run 999999"


def test_jobs_the_collector_runs_itself_are_409(collector: CollectorProcess) -> None:
    response = start(collector, job="local_command")
    assert response.status_code == 409
    assert "only external jobs report in" in response.json()["detail"]
    triggered = collector.api("POST", "/jobs/local_command/runs").json()
    collector.wait_run(triggered["id"])
    finish = collector.api("POST", f"/runs/{triggered['id']}/finish", json={"status": "failed"})
    assert finish.status_code == 409
    assert "records its own progress and end" in finish.json()["detail"]
    triggering = collector.api("POST", "/jobs/nightly/runs")
    assert triggering.status_code == 409


def test_malformed_reports_are_422_naming_the_field(collector: CollectorProcess) -> None:
    assert problem_locs(start(collector)) == [["body", "job"]]
    assert problem_locs(start(collector, job="nightly", started_at="yesterday")) == [
        ["body", "started_at"]
    ]
    assert sorted(
        problem_locs(start(collector, job="with_params", params={"full": "?", "batch": 0, "x": 1}))
    ) == [["body", "params", "batch"], ["body", "params", "full"], ["body", "params", "x"]]
    run = start(collector, job="nightly").json()
    url = f"/runs/{run['id']}"
    assert problem_locs(collector.api("POST", f"{url}/progress", json={"processed": "many"})) == [
        ["body", "processed"]
    ]
    assert problem_locs(collector.api("POST", f"{url}/progress", json={"created": -1})) == [
        ["body", "created"]
    ]
    assert problem_locs(collector.api("POST", f"{url}/finish", json={"status": "running"})) == [
        ["body", "status"]
    ]
    assert problem_locs(collector.api("POST", f"{url}/finish", json={"status": "abandoned"})) == [
        ["body", "status"]
    ]
    assert problem_locs(collector.api("POST", f"{url}/finish", json={})) == [["body", "status"]]
    assert collector.api("GET", url).json()["status"] == "running"


def test_reports_need_the_token(collector: CollectorProcess) -> None:
    anonymous = httpx.post(f"{collector.url}/api/v1/runs", json={"job": "nightly"})
    assert anonymous.status_code == 401
    assert not any(r["client_run_id"] == "anon" for r in runs_of(collector, "nightly"))


def test_an_external_job_that_never_reports_is_stale(collector: CollectorProcess) -> None:
    job = collector.api("GET", "/jobs/never_reports").json()
    assert (job["kind"], job["stale_after_seconds"]) == ("external", 1800.0)
    assert (job["last_success_at"], job["next_run"]) == (None, None)
    metrics = collector.http.get("/metrics").text
    assert 'jobwatch_job_stale_after_seconds{job="never_reports"} 1800.0' in metrics
    assert 'jobwatch_job_last_success_timestamp_seconds{job="never_reports"}' not in metrics
    assert 'jobwatch_job_stale_after_seconds{job="with_params"} 172860.0' in metrics


def test_external_runs_are_counted_in_the_metrics(collector: CollectorProcess) -> None:
    run = start(collector, job="metered").json()
    running = collector.http.get("/metrics").text
    assert 'jobwatch_job_runs_in_progress{job="metered"} 1.0' in running
    collector.api("POST", f"/runs/{run['id']}/progress", json={"processed": 2})
    done = collector.api(
        "POST", f"/runs/{run['id']}/finish", json={"status": "success", "processed": 4}
    ).json()
    metrics = collector.http.get("/metrics").text
    finished = datetime.fromisoformat(done["finished_at"]).timestamp()
    assert 'jobwatch_job_runs_total{job="metered",status="success"} 1.0' in metrics
    assert 'jobwatch_job_records_total{job="metered",outcome="processed"} 4.0' in metrics
    [last_success] = [
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith('jobwatch_job_last_success_timestamp_seconds{job="metered"}')
    ]
    assert last_success == pytest.approx(finished, abs=1e-3)
    assert 'jobwatch_job_runs_in_progress{job="metered"} 0.0' in metrics
