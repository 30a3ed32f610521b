"""``command`` jobs: an argv run without a shell, in its own process group.

Progress arrives as ``@jobwatch {json}`` lines on stdout with cumulative totals; any
other output is kept as the run's log tail. Cancel and timeout end the whole group,
SIGTERM first and SIGKILL after the grace, so no grandchild outlives its run.
"""

import contextlib
import json
import os
import signal
import subprocess
import threading
from typing import Any, Literal

from opentelemetry import propagate
from pydantic import Field

from collector.context import RunContext
from collector.counts import COUNT_NAMES
from collector.jobconfig import JobConfigBase
from collector.kinds.base import Kind, Outcome, outcome_from_counts
from collector.params import to_flags

PROGRESS_PREFIX = "@jobwatch "


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
    totals = {
        name: int(payload[name])
        for name in COUNT_NAMES
        if isinstance(payload.get(name), int | float) and not isinstance(payload.get(name), bool)
    }
    message = payload.get("message")
    return {"totals": totals, "message": message if isinstance(message, str) else None}


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
    assert process.stdout is not None
    for line in process.stdout:
        progress = parse_progress(line.strip())
        if progress is None:
            ctx.output(line)
        else:
            ctx.set_totals(progress["totals"], progress["message"])


def _stop(process: subprocess.Popen[str], grace: float) -> None:
    """SIGTERM the group, SIGKILL it after ``grace``; always clears the group."""
    _signal_group(process, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
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
            return Outcome("failed", f"cannot start {argv[0]!r}: {exc.strerror or exc}")
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
