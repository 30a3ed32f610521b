"""Processes a crashed collector left running, found and stopped at the next start.

Command jobs run in their own session, so a ``kill -9`` of the collector leaves them
running; the restart marks their run ``abandoned``, and without this the sync would
go on beside the next scheduled one. A process is only touched when both its process
group is the one recorded for the run and its environment carries that run's
``JOBWATCH_RUN_ID``, so a recycled pid never hits an unrelated process.
"""

import contextlib
import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")
POLL_SECONDS = 0.05


def _process_group(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[2]) if fields[0] not in ("Z", "X") else None


def _belongs_to_run(pid: int, run_id: int) -> bool:
    try:
        environment = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return f"JOBWATCH_RUN_ID={run_id}".encode() in environment.split(b"\0")


def leftover_processes(run_id: int, group: int) -> list[int]:
    """Live processes of ``group`` that were started for run ``run_id``."""
    if not PROC.is_dir():
        return []
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            pid = int(entry.name)
            if _process_group(pid) == group and _belongs_to_run(pid, run_id):
                found.append(pid)
    return found


def group_alive(group: int) -> bool:
    """True while a process of ``group`` still lives; zombies awaiting a reaper do not count."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not PROC.is_dir():
        return True
    return any(
        entry.name.isdigit() and _process_group(int(entry.name)) == group
        for entry in PROC.iterdir()
    )


def stop_leftovers(run_id: int, group: int, grace: float) -> list[int]:
    """SIGTERM the run's leftover processes, SIGKILL what remains after ``grace``."""
    targets = leftover_processes(run_id, group)
    for pid in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and leftover_processes(run_id, group):
        time.sleep(POLL_SECONDS)
    for pid in leftover_processes(run_id, group):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return targets
