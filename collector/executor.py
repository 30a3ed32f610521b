"""Where runs execute. ``Executor`` is the seam a distributed executor will plug into.

``LocalExecutor`` runs each run on two threads: a worker that calls the job kind
and a supervisor that enforces the timeout and cancel grace. A job that ignores
cancellation is still recorded ``timed_out``/``cancelled`` on time; its thread is
abandoned, never waited for. Concurrency is bounded by ``max_concurrent_runs`` with
a FIFO queue; a job whose ``overlap`` is not ``allow`` waits for its previous run.
"""

import contextlib
import contextvars
import logging
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from collector.context import RunContext
from collector.jobconfig import JobConfigBase
from collector.kinds import KINDS
from collector.kinds.base import Outcome
from collector.params import redact
from collector.runs import RunFinished, RunStore

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
SUPERVISE_TICK = 0.05
# Pauses before the retries of a run's final write: a database that is briefly away
# must not leave the run ``running`` (a ``skip`` job would answer 409 until a restart).
FINISH_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)


class Executor(Protocol):
    """What the collector needs from whatever executes runs."""

    def submit(self, run_id: int, job: JobConfigBase, params: dict, dry_run: bool) -> None: ...

    def cancel(self, run_id: int, reason: str = "cancelled") -> bool: ...

    def live(self, run_id: int) -> RunContext | None: ...

    def queued_count(self, job: str) -> int: ...

    def shutdown(self, grace: float) -> None: ...


@dataclass
class _Pending:
    run_id: int
    job: JobConfigBase
    params: dict
    dry_run: bool


@dataclass
class _Active:
    pending: _Pending
    ctx: RunContext
    done: threading.Event = field(default_factory=threading.Event)
    pid: int | None = None  # the process group a command run started


class LocalExecutor:
    def __init__(self, runs: RunStore, *, max_concurrent: int) -> None:
        self._runs = runs
        self._max_concurrent = max_concurrent
        self._pending: deque[_Pending] = deque()
        self._active: dict[int, _Active] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, run_id: int, job: JobConfigBase, params: dict, dry_run: bool) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the executor is shutting down")
            self._pending.append(_Pending(run_id, job, params, dry_run))
        self._dispatch()

    def queued_count(self, job: str) -> int:
        with self._lock:
            return sum(1 for pending in self._pending if pending.job.name == job)

    def live(self, run_id: int) -> RunContext | None:
        active = self._active.get(run_id)
        return active.ctx if active is not None else None

    def running_ids(self) -> list[int]:
        with self._lock:
            return list(self._active)

    def cancel(self, run_id: int, reason: str = "cancelled") -> bool:
        """Cancel a queued or running run; False when this executor does not hold it."""
        with self._lock:
            queued = next((p for p in self._pending if p.run_id == run_id), None)
            if queued is not None:
                self._pending.remove(queued)
            active = self._active.get(run_id)
        if queued is not None:
            self._finish_quietly(run_id, "cancelled", f"{reason} before it started")
            return True
        if active is not None:
            active.ctx.request_cancel("cancelled")
            return True
        return False

    def _eligible(self, pending: _Pending) -> bool:
        if pending.job.overlap == "allow":
            return True
        return not any(a.pending.job.name == pending.job.name for a in self._active.values())

    def _dispatch(self) -> None:
        to_start: list[_Active] = []
        with self._lock:
            while len(self._active) < self._max_concurrent and not self._closed:
                pending = next((p for p in self._pending if self._eligible(p)), None)
                if pending is None:
                    break
                self._pending.remove(pending)
                ctx = RunContext(
                    run_id=pending.run_id,
                    job=pending.job.name,
                    params=pending.params,
                    dry_run=pending.dry_run,
                    on_change=self._record_progress,
                    on_process=self._process_started,
                )
                active = _Active(pending, ctx)
                self._active[pending.run_id] = active
                to_start.append(active)
        for active in to_start:
            threading.Thread(
                target=self._supervise,
                args=(active,),
                name=f"run-{active.pending.run_id}",
                daemon=True,
            ).start()

    def _record_progress(self, ctx: RunContext) -> None:
        """Best effort: the final counts are written at the end anyway.

        A failed write must not raise into the job (or kill a command's output
        reader, which leaves the child blocked on a full pipe), and a thread abandoned
        after its run ended has nothing left to write to.
        """
        active = self._active.get(ctx.run_id)
        if active is None or active.ctx is not ctx:
            return
        try:
            self._runs.record_progress(ctx)
        except Exception:
            logger.exception("could not record the progress of run %s", ctx.run_id)

    def _process_started(self, run_id: int, pid: int) -> None:
        """Keep the group for shutdown; store it for crash recovery, best effort (raising
        here would leave the just-started process without a reader or a stop)."""
        active = self._active.get(run_id)
        if active is not None:
            active.pid = pid
        try:
            self._runs.record_process(run_id, pid)
        except Exception:
            logger.exception("could not record the process of run %s", run_id)

    def _supervise(self, active: _Active) -> None:
        pending, ctx = active.pending, active.ctx
        job = pending.job
        try:
            with tracer.start_as_current_span(
                f"jobwatch.run {job.name}",
                attributes={
                    "jobwatch.job": job.name,
                    "jobwatch.run_id": pending.run_id,
                    "jobwatch.kind": job.kind,
                    "jobwatch.dry_run": pending.dry_run,
                    **{
                        f"jobwatch.param.{name}": str(value)
                        for name, value in redact(job.params, pending.params).items()
                    },
                },
            ) as span:
                span_context = span.get_span_context()
                trace_id = (
                    trace.format_trace_id(span_context.trace_id) if span_context.is_valid else None
                )
                try:
                    self._runs.mark_running(pending.run_id, trace_id)
                except RunFinished:
                    logger.info("run %s ended before it could start", pending.run_id)
                    return
                outcome = self._run_with_deadline(active, contextvars.copy_context())
                status = ctx.cancel_reason or outcome.status
                error = outcome.error
                if ctx.cancel_reason == "timed_out":
                    error = f"timed out after {job.timeout:g}s"
                elif ctx.cancel_reason == "cancelled":
                    error = (
                        "the collector shut down while it ran"
                        if self._closed
                        else "cancelled on request"
                    )
                counts = ctx.counts()
                span.set_attribute("jobwatch.status", status)
                for name, value in counts.items():
                    span.set_attribute(f"jobwatch.records.{name}", value)
                if status in ("failed", "timed_out"):
                    span.set_status(Status(StatusCode.ERROR, error))
                with tracer.start_as_current_span("db.write run"):
                    self._finish_retrying(
                        pending.run_id,
                        status,
                        error,
                        counts=counts,
                        message=ctx.state.message,
                        log_tail=ctx.log_tail(),
                        result=dict(ctx.state.result) or None,
                    )
        except Exception:
            logger.exception("supervising run %s failed", pending.run_id)
            try:
                self._finish_retrying(
                    pending.run_id, "failed", "internal error in jobwatch; see its log"
                )
            except Exception:
                logger.exception("could not record the end of run %s", pending.run_id)
        finally:
            active.done.set()
            with self._lock:
                self._active.pop(pending.run_id, None)
            self._dispatch()

    def _run_with_deadline(self, active: _Active, context: contextvars.Context) -> Outcome:
        pending, ctx = active.pending, active.ctx
        job = pending.job
        execute = KINDS[job.kind].execute
        assert execute is not None, f"{job.kind} jobs do not run in the collector"
        outcome: list[Outcome] = []
        finished = threading.Event()
        if ctx.cancelled:  # cancelled between dispatch and start: do not start the work
            return Outcome("failed", "cancelled before it started")

        def work() -> None:
            try:
                outcome.append(execute(ctx, job))
            except Exception as exc:
                logger.exception("run %s of %s raised", pending.run_id, job.name)
                outcome.append(Outcome("failed", f"{type(exc).__name__}: {exc}"))
            finally:
                finished.set()

        threading.Thread(
            target=context.run, args=(work,), name=f"job-{pending.run_id}", daemon=True
        ).start()
        started = time.monotonic()
        cancel_seen: float | None = None
        while not finished.wait(SUPERVISE_TICK):
            now = time.monotonic()
            if job.timeout is not None and now - started >= job.timeout:
                ctx.request_cancel("timed_out")
            if ctx.cancelled and cancel_seen is None:
                cancel_seen = now
            if cancel_seen is not None and now - cancel_seen >= job.cancel_grace + 1.0:
                logger.warning("run %s ignored cancellation; abandoning its thread", pending.run_id)
                return Outcome("failed", "the job did not stop when asked")
        return outcome[0]

    def _finish_quietly(
        self, run_id: int, status: str, error: str | None, **fields: object
    ) -> None:
        with contextlib.suppress(RunFinished):
            self._runs.finish(run_id, status, error=error, **fields)  # type: ignore[arg-type]

    def _finish_retrying(
        self, run_id: int, status: str, error: str | None, **fields: object
    ) -> None:
        """``_finish_quietly``, retried while the database cannot be reached."""
        for delay in (*FINISH_RETRY_DELAYS, None):
            try:
                self._finish_quietly(run_id, status, error, **fields)
                return
            except (OperationalError, InterfaceError, PoolTimeout):
                if delay is None:
                    raise
                logger.warning(
                    "could not record the end of run %s; retrying in %gs",
                    run_id,
                    delay,
                    exc_info=True,
                )
                time.sleep(delay)

    def shutdown(self, grace: float) -> None:
        """Cancel what is queued, ask running runs to stop, record their final states."""
        with self._lock:
            self._closed = True
            pending, self._pending = list(self._pending), deque()
            active = list(self._active.values())
        for item in pending:
            self._finish_quietly(
                item.run_id, "cancelled", "the collector shut down before it started"
            )
        for item in active:
            item.ctx.request_cancel("cancelled")
        deadline = time.monotonic() + grace
        for item in active:
            item.done.wait(max(deadline - time.monotonic(), 0))
        for item in active:
            if not item.done.is_set():
                if item.pid is not None:
                    # Its cancel grace outlasts the shutdown's: once the run is recorded
                    # cancelled nothing would ever stop the group, so end it now.
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(item.pid, signal.SIGKILL)
                self._finish_quietly(
                    item.pending.run_id, "cancelled", "the collector shut down while it ran"
                )
