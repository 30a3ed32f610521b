"""Crash and shutdown: what a collector leaves behind is recorded honestly.

A ``kill -9`` gives the collector no chance to record anything, so the next start
must settle its runs as ``abandoned``. A SIGTERM is the polite stop: the running run
is cancelled and recorded, the activity log is flushed and the exit code is 0.
"""

import signal
from pathlib import Path

from sqlalchemy import select

from collector.store.database import Database
from collector.store.models import ActivityLog, Run
from tests.core.helpers import pid_alive, stubborn_job, sync_job, wait_for_job_pids
from tests.support.process import CollectorProcess, wait_for


def test_kill_9_leaves_running_and_queued_runs_abandoned_after_restart(
    collector_process: type[CollectorProcess], tmp_path: Path
) -> None:
    config = {
        "max_concurrent_runs": 1,
        "jobs": [
            stubborn_job("long", tmp_path / "pids"),
            sync_job("waiting", "--total", "1"),
        ],
    }
    first = collector_process(config).start()
    running = first.api("POST", "/jobs/long/runs", json={}).json()["id"]
    job_pids = wait_for_job_pids(tmp_path / "pids")
    queued = first.api("POST", "/jobs/waiting/runs", json={}).json()["id"]
    assert first.api("GET", f"/runs/{running}").json()["status"] == "running"
    assert first.api("GET", f"/runs/{queued}").json()["status"] == "queued"
    first.kill()
    assert first.process is not None and first.process.returncode == -signal.SIGKILL

    assert all(pid_alive(pid) for pid in job_pids), "the job must outlive the killed collector"
    second = collector_process(config).start()
    assert not any(pid_alive(pid) for pid in job_pids), "the restart left the job running"
    for run_id, was in ((running, "running"), (queued, "queued")):
        run = second.api("GET", f"/runs/{run_id}").json()
        assert run["status"] == "abandoned", run
        assert run["error"] == f"the collector stopped while this run was {was}"
        assert run["finished_at"] is not None

    def abandoned_entries() -> list[dict]:
        items = second.api("GET", "/activity/recent", params={"type": "system"}).json()["items"]
        return [item for item in items if "abandoned after an unclean stop" in item["message"]]

    entries = wait_for(abandoned_entries, what="the 'abandoned' activity entry")
    assert len(entries) == 1
    assert entries[0]["message"] == (
        "Marked 2 run(s) abandoned after an unclean stop; stopped 2 process(es) they left running"
    )
    assert sorted(entries[0]["details"]["stopped_pids"][str(running)]) == sorted(job_pids)
    assert entries[0]["status"] == "warning"
    assert sorted(entries[0]["details"]["run_ids"]) == sorted([running, queued])
    per_run = second.api("GET", "/activity/recent", params={"run_id": running}).json()["items"]
    assert any("ended abandoned" in item["message"] for item in per_run)
    # The abandoned runs are final: new runs of both jobs start normally.
    fresh = second.api("POST", "/jobs/waiting/runs", json={}).json()["id"]
    assert second.wait_run(fresh)["status"] == "success"


def test_sigterm_cancels_the_running_run_flushes_activity_and_exits_0(
    collector_process: type[CollectorProcess], tmp_path: Path
) -> None:
    pid_dir = tmp_path / "pids"
    collector = collector_process(
        {"shutdown_grace": "5s", "jobs": [stubborn_job("long", pid_dir)]}
    ).start()
    run_id = collector.api("POST", "/jobs/long/runs", json={}).json()["id"]
    pids = wait_for_job_pids(pid_dir)

    code = collector.stop(signal.SIGTERM, timeout=15)
    assert code == 0, collector.log()
    assert "Traceback" not in collector.log()
    assert not any(pid_alive(pid) for pid in pids), "a job process outlived the collector"

    database = Database(collector.config["database_url"])
    try:
        with database.read() as session:
            run = session.get(Run, run_id)
            messages = list(session.scalars(select(ActivityLog.message).order_by(ActivityLog.id)))
    finally:
        database.dispose()
    assert run is not None
    assert run.status == "cancelled"
    assert run.error == "the collector shut down while it ran"
    assert run.finished_at is not None
    ended = next(
        i
        for i, text in enumerate(messages)
        if text.startswith(f"Run #{run_id} of long ended cancelled")
    )
    assert messages.index("jobwatch is shutting down") < ended < messages.index("jobwatch stopped")
    assert messages[-1] == "jobwatch stopped", "the last entry of the stop was not flushed"
