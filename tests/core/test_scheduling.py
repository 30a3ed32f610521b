"""Scheduling and the run queue, against a real collector.

A scheduled job must fire when ``next_run`` said it would, ``next_run`` must move by
exactly the interval, a cron job's ``next_run`` is the next matching minute; a
``skip`` job answers 409 while it runs, a ``queue`` job waits for itself, and the
global ``max_concurrent_runs`` queues runs first in, first out.
"""

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.core.helpers import PYTHON, sync_job
from tests.support.process import CollectorProcess, wait_for


def _at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def _next_five_minutes(moment: datetime) -> datetime:
    base = moment.replace(second=0, microsecond=0)
    return base + timedelta(minutes=5 - base.minute % 5)


def test_scheduled_job_runs_on_time_and_next_run_is_right(
    collector_process: type[CollectorProcess],
) -> None:
    collector = collector_process(
        {
            "jobs": [
                {
                    "name": "tick",
                    "kind": "command",
                    "command": [PYTHON, "-c", ""],
                    "schedule": "every 1s",
                    "overlap": "allow",  # a slow start under load must not skip a fire time
                },
                {
                    "name": "cronly",
                    "kind": "command",
                    "command": [PYTHON, "-c", ""],
                    "schedule": "*/5 * * * *",
                },
                {"name": "manual", "kind": "command", "command": [PYTHON, "-c", ""]},
            ]
        }
    ).start()
    asked = datetime.now(UTC)
    job = collector.api("GET", "/jobs/tick").json()
    first_due = _at(job["next_run"])
    assert job["schedule"] == "every 1s"
    assert asked - timedelta(seconds=0.2) < first_due <= asked + timedelta(seconds=1.05)

    cron = collector.api("GET", "/jobs/cronly").json()
    now = datetime.now(UTC)
    assert _at(cron["next_run"]) in (
        _next_five_minutes(now),
        _next_five_minutes(now - timedelta(seconds=2)),
    )
    assert collector.api("GET", "/jobs/manual").json()["next_run"] is None

    def scheduled_runs(count: int) -> list[dict[str, Any]] | None:
        """Scheduled runs from ``first_due`` on (one may have fired before we asked)."""
        items = collector.api("GET", "/runs", params={"job": "tick"}).json()["items"]
        runs = sorted(
            (
                run
                for run in items
                if run["trigger"] == "schedule"
                and _at(run["queued_at"]) > first_due - timedelta(milliseconds=50)
            ),
            key=lambda run: run["id"],
        )
        return runs if len(runs) >= count else None

    first, second = wait_for(lambda: scheduled_runs(2), timeout=6, what="two scheduled runs")[:2]
    for run, due in ((first, first_due), (second, first_due + timedelta(seconds=1))):
        lateness = (_at(run["queued_at"]) - due).total_seconds()
        assert 0 <= lateness < 0.75, (run, due)
    # Once a fire time has passed, next_run moves on by exactly the interval.
    later = collector.api("GET", "/jobs/tick").json()
    steps = (_at(later["next_run"]) - first_due) / timedelta(seconds=1)
    assert steps == int(steps) and steps >= 2, later["next_run"]
    assert later["last_run"]["trigger"] == "schedule"
    assert collector.wait_run(first["id"])["status"] == "success"


def test_skip_job_answers_409_while_running_and_queue_job_waits_for_itself(
    collector_process: type[CollectorProcess], tmp_path: Path
) -> None:
    hold = tmp_path / "release"
    collector = collector_process(
        {
            "jobs": [
                sync_job("single", "--total", "2", "--batch-size", "1", "--hold", str(hold)),
                sync_job(
                    "serial",
                    "--total",
                    "2",
                    "--batch-size",
                    "1",
                    "--hold",
                    str(hold),
                    overlap="queue",
                ),
            ]
        }
    ).start()
    single = collector.api("POST", "/jobs/single/runs", json={}).json()["id"]
    first = collector.api("POST", "/jobs/serial/runs", json={}).json()["id"]
    collector.wait_run(single, statuses=("running",))
    collector.wait_run(first, statuses=("running",))

    refused = collector.api("POST", "/jobs/single/runs", json={})
    assert refused.status_code == 409
    assert f"run {single}" in refused.json()["detail"]
    assert [
        run["id"] for run in collector.api("GET", "/runs", params={"job": "single"}).json()["items"]
    ] == [single]

    queued = collector.api("POST", "/jobs/serial/runs", json={})
    assert queued.status_code == 202
    second = queued.json()["id"]
    assert collector.api("GET", f"/runs/{second}").json()["status"] == "queued"
    assert collector.api("GET", "/jobs/serial").json()["queued"] == 1

    hold.touch()
    runs = [collector.wait_run(run_id) for run_id in (single, first, second)]
    assert [run["status"] for run in runs] == ["success"] * 3
    assert _at(runs[2]["started_at"]) >= _at(runs[1]["finished_at"]), (
        "a queue job overlapped itself"
    )
    again = collector.api("POST", "/jobs/single/runs", json={})
    assert again.status_code == 202, "a finished skip job must accept a new run"


def test_max_concurrent_runs_queues_first_in_first_out(
    collector_process: type[CollectorProcess], tmp_path: Path
) -> None:
    hold = tmp_path / "release"
    collector = collector_process(
        {
            "max_concurrent_runs": 1,
            "jobs": [
                sync_job("blocker", "--total", "2", "--batch-size", "1", "--hold", str(hold)),
                sync_job("alpha", "--total", "1"),
                sync_job("beta", "--total", "1"),
                sync_job("gamma", "--total", "1"),
            ],
        }
    ).start()
    blocker = collector.api("POST", "/jobs/blocker/runs", json={}).json()["id"]
    collector.wait_run(blocker, statuses=("running",))
    # Triggered out of alphabetical order, so only arrival order explains the result.
    order = ["gamma", "alpha", "beta"]
    ids = {}
    for name in order:
        response = collector.api("POST", f"/jobs/{name}/runs", json={})
        assert response.status_code == 202
        assert response.json()["status"] == "queued"
        ids[name] = response.json()["id"]
    for name in order:
        assert collector.api("GET", f"/runs/{ids[name]}").json()["status"] == "queued"
        assert collector.api("GET", f"/jobs/{name}").json()["queued"] == 1

    hold.touch()
    runs = [collector.wait_run(run_id) for run_id in [blocker, *(ids[name] for name in order)]]
    assert all(run["status"] == "success" for run in runs), runs
    for earlier, later in itertools.pairwise(runs):
        assert _at(later["started_at"]) >= _at(earlier["finished_at"]), (earlier, later)
