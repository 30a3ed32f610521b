"""Shared pieces of the core tests: job configs for the fixture scripts, process checks, the CLI."""

import contextlib
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from collector.config import Settings
from collector.service import Collector
from collector.store import migrate
from collector.store.database import Database
from collector.store.models import ActivityLog, Run
from tests.support.process import REPO, wait_for

FIXTURES = REPO / "tests" / "fixtures"
PYTHON = sys.executable
# Lets a collector subprocess import ``tests.fixtures.core_jobs`` for python jobs.
REPO_ON_PATH = {"PYTHONPATH": str(REPO)}


def sync_job(name: str, *args: str, **fields: Any) -> dict[str, Any]:
    """A command job running ``tests/fixtures/progress_sync.py`` with fixed ``args``."""
    return {
        "name": name,
        "kind": "command",
        "command": [PYTHON, str(FIXTURES / "progress_sync.py"), *args],
        "cancel_grace": "1s",
        **fields,
    }


def stubborn_job(name: str, pid_dir: Path, *args: str, **fields: Any) -> dict[str, Any]:
    """A command job whose grandchild ignores SIGTERM and records both pids in ``pid_dir``."""
    pid_dir.mkdir(parents=True, exist_ok=True)
    return {
        "name": name,
        "kind": "command",
        "command": [PYTHON, str(FIXTURES / "stubborn.py"), str(pid_dir), *args],
        "cancel_grace": "1s",
        **fields,
    }


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """True while ``pid`` is a live process; a zombie awaiting its reaper counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def wait_for_job_pids(pid_dir: Path) -> tuple[int, int]:
    """The (child, grandchild) pids ``stubborn.py`` records, once both run."""

    def both() -> tuple[int, int] | None:
        child, grandchild = read_pid(pid_dir / "child.pid"), read_pid(pid_dir / "grandchild.pid")
        return (child, grandchild) if child and grandchild else None

    pids = wait_for(both, what=f"child and grandchild pids in {pid_dir}")
    assert all(pid_alive(pid) for pid in pids), pids
    return pids


def kill_recorded_pids(root: Path) -> None:
    """SIGKILL every process a fixture script recorded under ``root`` that still lives."""
    for pid_file in root.rglob("*.pid"):
        pid = read_pid(pid_file)
        if pid is not None and pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def jobwatch(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run the real ``jobwatch`` CLI (``python -m collector``) and capture its output."""
    return subprocess.run(
        [PYTHON, "-m", "collector", *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tick_settings(tmp_path: Path, schedule: str) -> Settings:
    """One command job ``tick`` on ``schedule``, with a 30s misfire grace."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'jobwatch.db'}",
        misfire_grace_time=30,
        jobs=[{"name": "tick", "kind": "command", "command": ["true"], "schedule": schedule}],
    )


def scheduled_run(at: datetime, *, status: str = "success") -> Run:
    """A run of ``tick`` the schedule started at ``at`` (finished unless still running)."""
    finished = at if status != "running" else None
    return Run(
        job="tick",
        status=status,
        trigger="schedule",
        params={},
        queued_at=at,
        started_at=at,
        finished_at=finished,
    )


def seed_tick_history(settings: Settings, *rows: Run | ActivityLog) -> None:
    """What a previous collector left in the database before it went away."""
    database = Database(settings.database_url)
    migrate.upgrade(database)
    with database.write() as session:
        session.add_all(rows)
    database.dispose()


def missed_runs(collector: Collector) -> float:
    assert collector.metrics is not None
    text = collector.metrics.render(openmetrics=False).decode()
    for family in text_string_to_metric_families(text):
        if family.name == "jobwatch_scheduler_missed_runs":
            return next(s.value for s in family.samples if s.labels == {"job": "tick"})
    raise AssertionError("jobwatch_scheduler_missed_runs_total is not exported")
