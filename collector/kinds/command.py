"""``command`` jobs: an argv run without a shell, in its own process group.

Progress arrives as ``@jobwatch {json}`` lines on stdout with cumulative totals; any
other output is kept as the run's log tail. Cancel and timeout end the whole group,
SIGTERM first and SIGKILL after the grace, so no grandchild outlives its run.
"""

import contextlib
import json
import logging
import math
import os
import signal
import subprocess
import threading
import time
from typing import Any, Literal

from opentelemetry import propagate
from pydantic import Field

from collector.context import RunContext
from collector.counts import COUNT_NAMES
from collector.jobconfig import JobConfigBase
from collector.kinds.base import Kind, Outcome, outcome_from_counts
from collector.leftovers import group_alive
from collector.params import to_flags

logger = logging.getLogger(__name__)
PROGRESS_PREFIX = "@jobwatch "
# Output is read at most this many characters at a time, so one endless line cannot
# take the collector's memory; a longer line keeps its first MAX_LINE_CHARS in the tail.
READ_CHARS = 65_536
MAX_LINE_CHARS = 4_000
LINE_CUT = " …(line cut)"
# Counts are stored as 32-bit integers (PostgreSQL INTEGER).
MAX_COUNT = 2**31 - 1
# How long output may still arrive after the command exits before whatever it left
# running with its output open is ended as a leftover of the run.
DRAIN_SECONDS = 1.0
GROUP_POLL_SECONDS = 0.05


class CommandJob(JobConfigBase):
    kind: Literal["command"]
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    dry_run_flag: str | None = None


def parse_progress(line: str) -> dict[str, Any] | None:
    """The totals of a progress line, or None for ordinary output."""
    if not line.startswith(PROGRESS_PREFIX):
        return None
    try:
        payload = json.loads(line[len(PROGRESS_PREFIX) :])
    except json.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    totals = {name: int(payload[name]) for name in COUNT_NAMES if _is_count(payload.get(name))}
    message = payload.get("message")
    return {"totals": totals, "message": message if isinstance(message, str) else None}


def _is_count(value: object) -> bool:
    """A total the run can store: a finite number from 0 to MAX_COUNT (not a bool)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= MAX_COUNT
    )


def _environment(ctx: RunContext, job: CommandJob) -> dict[str, str]:
    env = {**os.environ, **job.env}
    env["JOBWATCH_RUN_ID"] = str(ctx.run_id)
    env["JOBWATCH_JOB"] = ctx.job
    env["JOBWATCH_DRY_RUN"] = "1" if ctx.dry_run else "0"
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    for key, value in carrier.items():
        env[key.upper()] = value
    return env


def _signal_group(process: subprocess.Popen[str], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _read_output(process: subprocess.Popen[str], ctx: RunContext) -> None:
    """Drain the output until EOF, whatever a line holds: a reader that stops leaves
    the command blocked on a full pipe."""
    assert process.stdout is not None
    skipping = False  # inside a line longer than READ_CHARS, after its first part
    while chunk := process.stdout.readline(READ_CHARS):
        whole = chunk.endswith("\n")
        if skipping:
            skipping = not whole
            continue
        try:
            if not whole and len(chunk) >= READ_CHARS:
                skipping = True
                ctx.output(chunk[:MAX_LINE_CHARS] + LINE_CUT)
                continue
            progress = parse_progress(chunk.strip())
            if progress is not None:
                ctx.set_totals(progress["totals"], progress["message"])
            elif len(chunk.rstrip("\n")) > MAX_LINE_CHARS:
                ctx.output(chunk[:MAX_LINE_CHARS] + LINE_CUT)
            else:
                ctx.output(chunk)
        except Exception:
            logger.exception("run %s: could not take a line of output", ctx.run_id)


def _stop(process: subprocess.Popen[str], grace: float) -> None:
    """SIGTERM the group, SIGKILL what is left of it after ``grace``; always clears the group.

    The grace is the whole group's: a child cleaning up after SIGTERM is not killed
    just because the command itself exited at once.
    """
    _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + grace
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    while time.monotonic() < deadline and group_alive(process.pid):
        time.sleep(GROUP_POLL_SECONDS)
    _signal_group(process, signal.SIGKILL)
    process.wait()


def execute(ctx: RunContext, job: CommandJob) -> Outcome:  # type: ignore[override]
    argv = [*job.command, *to_flags(job.params, ctx.params)]
    if ctx.dry_run and job.dry_run_flag:
        argv.append(job.dry_run_flag)
    with ctx.span("subprocess", **{"process.executable.name": argv[0]}) as span:
        try:
            process = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
                bufsize=1,
                cwd=job.cwd,
                env=_environment(ctx, job),
                start_new_session=True,
            )
        except OSError as exc:
            where = (
                f"working directory {job.cwd!r}: "
                if job.cwd is not None and exc.filename == job.cwd
                else ""
            )
            return Outcome("failed", f"cannot start {argv[0]!r}: {where}{exc.strerror or exc}")
        span.set_attribute("process.pid", process.pid)
        ctx.attach_process(process.pid)
        reader = threading.Thread(target=_read_output, args=(process, ctx), daemon=True)
        reader.start()
        while process.poll() is None:
            if ctx.wait(0.1):
                _stop(process, job.cancel_grace)
                break
        if ctx.cancelled:
            _signal_group(process, signal.SIGKILL)
        reader.join(timeout=DRAIN_SECONDS)
        if reader.is_alive() and not ctx.cancelled and group_alive(process.pid):
            # The command exited, but processes it started still hold its output open:
            # they would outlive the run and hold up its end. End them as a cancel would.
            ctx.output("jobwatch: ended what the command left running with its output open")
            _stop(process, job.cancel_grace)
        reader.join(timeout=5)
        code = process.returncode
        span.set_attribute("process.exit.code", code)
    if code == 0:
        return outcome_from_counts(ctx)
    if code < 0:
        return Outcome("failed", f"killed by signal {signal.Signals(-code).name}")
    last_line = ctx.log_tail().rsplit("\n", 1)[-1].strip()
    return Outcome("failed", f"exit code {code}" + (f": {last_line}" if last_line else ""))


KIND = Kind("command", CommandJob, execute)  # type: ignore[arg-type]
