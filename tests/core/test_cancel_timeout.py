"""Cancel and timeout end the whole process group, and end runs on time.

``stubborn.py`` starts a grandchild that ignores SIGTERM: only SIGKILL of the group
after the cancel grace ends it. A python job cannot be killed at all, so one that
ignores cancellation must still be recorded ``timed_out`` on time while its thread
is abandoned.
"""

import time
from datetime import datetime
from pathlib import Path

from tests.core.helpers import REPO_ON_PATH, pid_alive, stubborn_job, wait_for_job_pids
from tests.support.process import CollectorProcess, wait_for


def _assert_gone(pids: tuple[int, ...]) -> None:
    # SIGKILL is delivered before the run is recorded; the kernel tears down within moments.
    wait_for(lambda: not any(pid_alive(pid) for pid in pids), timeout=3, what=f"{pids} to be gone")


def test_cancel_ends_the_run_and_every_descendant(
    collector_process: type[CollectorProcess], tmp_path: Path
) -> None:
    pid_dir = tmp_path / "cancel"
    collector = collector_process(
        {"jobs": [stubborn_job("stubborn", pid_dir, "--child-ignores-term")]}
    ).start()
    run_id = collector.api("POST", "/jobs/stubborn/runs", json={}).json()["id"]
    pids = wait_for_job_pids(pid_dir)
    assert collector.api("GET", f"/runs/{run_id}").json()["status"] == "running"

    asked = time.monotonic()
    response = collector.api("POST", f"/runs/{run_id}/cancel")
    assert response.status_code == 202, response.text
    run = collector.wait_run(run_id, timeout=10)
    took = time.monotonic() - asked

    assert run["status"] == "cancelled"
    assert run["error"] == "cancelled on request"
    # Both ignore SIGTERM: the group is SIGKILLed after the 1s grace, not sooner.
    assert took >= 0.9, took
    _assert_gone(pids)
    again = collector.api("POST", f"/runs/{run_id}/cancel")
    assert again.status_code == 409


def test_timeout_ends_the_run_and_every_descendant(
    collector_process: type[CollectorProcess], tmp_path: Path
) -> None:
    pid_dir = tmp_path / "timeout"
    collector = collector_process(
        {"jobs": [stubborn_job("stubborn", pid_dir, timeout="1500ms")]}
    ).start()
    run_id = collector.api("POST", "/jobs/stubborn/runs", json={}).json()["id"]
    pids = wait_for_job_pids(pid_dir)

    run = collector.wait_run(run_id, timeout=10)
    assert run["status"] == "timed_out"
    assert run["error"] == "timed out after 1.5s"
    assert 1.5 <= run["duration_seconds"] < 5, run["duration_seconds"]
    _assert_gone(pids)


def test_python_job_ignoring_cancellation_is_timed_out_on_time(
    collector_process: type[CollectorProcess], tmp_path: Path
) -> None:
    marker = tmp_path / "finished"
    collector = collector_process(
        {
            "jobs": [
                {
                    "name": "deaf",
                    "kind": "python",
                    "target": "tests.fixtures.core_jobs:ignore_cancel",
                    "timeout": "1s",
                    "cancel_grace": "500ms",
                    "params": {
                        "seconds": {"type": "float", "default": 20},
                        "marker": {"type": "str", "default": str(marker)},
                    },
                }
            ]
        },
        env=REPO_ON_PATH,
    ).start()
    run_id = collector.api("POST", "/jobs/deaf/runs", json={}).json()["id"]
    run = collector.wait_run(run_id, timeout=10)

    assert run["status"] == "timed_out"
    assert run["error"] == "timed out after 1s"
    # timeout + cancel grace + the executor's 1s allowance (2.5s), plus slack for a busy box;
    # the job itself would sleep 20s.
    started = datetime.fromisoformat(run["started_at"])
    finished = datetime.fromisoformat(run["finished_at"])
    assert 1.0 <= (finished - started).total_seconds() < 5
    assert run["records_processed"] == 1, "progress reported before the timeout is kept"
    assert not marker.exists(), "the job was meant to be still sleeping when recorded"
    # The abandoned thread does not hold the job's slot: the next trigger starts at once.
    second = collector.api("POST", "/jobs/deaf/runs", json={})
    assert second.status_code == 202, second.text
    collector.wait_run(second.json()["id"], statuses=("running",), timeout=5)
