"""The run record: created, moved through its statuses, and read back, always via here.

Every change is written to the database first and then published as ``RunChanged``,
so metrics, SSE clients and the CLI only ever see states that are recorded.
"""

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from collector.activity import log_activity
from collector.context import RunContext
from collector.events import EventBus, RunChanged, utcnow
from collector.leftovers import stop_leftovers
from collector.store.database import Database
from collector.store.models import Run

RunStatus = Literal[
    "queued", "running", "success", "partial", "failed", "cancelled", "timed_out", "abandoned"
]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
ACTIVE_STATUSES = RUN_STATUSES[:2]
FINAL_STATUSES = RUN_STATUSES[2:]
TRIGGERS = ("schedule", "manual", "api", "external")
PROGRESS_WRITE_INTERVAL = 1.0
_ACTIVITY_STATUS = {
    "success": "success",
    "partial": "warning",
    "cancelled": "warning",
    "failed": "error",
    "timed_out": "error",
    "abandoned": "error",
}


class UnknownRun(LookupError):
    pass


class RunFinished(Exception):
    """The run is already final; it cannot change again."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_view(run: Run, live: RunContext | None = None) -> dict[str, Any]:
    """The API form of a run; counts come from the live context while it runs."""
    counts = live.counts() if live is not None else None
    duration = run.duration_seconds
    if duration is None and run.started_at is not None and run.finished_at is None:
        duration = (utcnow() - run.started_at).total_seconds()
    return {
        "id": run.id,
        "job": run.job,
        "status": run.status,
        "trigger": run.trigger,
        "params": run.params,
        "dry_run": run.dry_run,
        "queued_at": _iso(run.queued_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_seconds": duration,
        "records_processed": counts["processed"] if counts else run.records_processed,
        "records_created": counts["created"] if counts else run.records_created,
        "records_updated": counts["updated"] if counts else run.records_updated,
        "records_failed": counts["failed"] if counts else run.records_failed,
        "message": (live.state.message if live is not None else None) or run.message,
        "error": run.error,
        "log_tail": live.log_tail() if live is not None else run.log_tail,
        "result": dict(live.state.result) if live is not None else run.result,
        "trace_id": run.trace_id,
        "client_run_id": run.client_run_id,
        "user": run.user,
    }


def _open_run(session: Session, run_id: int) -> Run:
    """The run, for a change that only a run still going may take."""
    run = session.get(Run, run_id)
    if run is None:
        raise UnknownRun(run_id)
    if run.status in FINAL_STATUSES:
        raise RunFinished(f"run {run_id} already ended {run.status}")
    return run


class RunStore:
    def __init__(self, database: Database, bus: EventBus) -> None:
        self._database = database
        self._bus = bus
        self._last_progress_write: dict[int, float] = {}
        self._lock = threading.Lock()

    def _publish(
        self, run: Run, previous: str | None, live: RunContext | None = None
    ) -> dict[str, Any]:
        view = run_view(run, live)
        self._bus.publish(RunChanged(run=view, previous_status=previous))
        return view

    def create(
        self,
        job: str,
        params: dict[str, Any],
        *,
        trigger: str,
        dry_run: bool = False,
        user: str | None = None,
        client_run_id: str | None = None,
        status: str = "queued",
        started_at: datetime | None = None,
    ) -> dict[str, Any]:
        now = utcnow()
        with self._database.write() as session:
            run = Run(
                job=job,
                status=status,
                trigger=trigger,
                params=params,
                dry_run=dry_run,
                queued_at=now,
                started_at=started_at,
                user=user,
                client_run_id=client_run_id,
                records_processed=0,
                records_created=0,
                records_updated=0,
                records_failed=0,
            )
            session.add(run)
            session.flush()
        return self._publish(run, None)

    def get_row(self, run_id: int) -> Run:
        with self._database.read() as session:
            run = session.get(Run, run_id)
        if run is None:
            raise UnknownRun(run_id)
        return run

    def mark_running(
        self, run_id: int, trace_id: str | None, *, started_at: datetime | None = None
    ) -> dict[str, Any]:
        """``started_at`` is for external runs, which report when they really began."""
        with self._database.write() as session:
            # A run that is already final (cancelled while queued, settled by a shutdown)
            # must not come back to life: raises RunFinished.
            run = _open_run(session, run_id)
            previous = run.status
            run.status = "running"
            run.started_at = started_at or utcnow()
            run.trace_id = trace_id
        log_activity(
            "job",
            f"Run #{run_id} of {run.job} started ({run.trigger}"
            + (", dry run)" if run.dry_run else ")"),
            job=run.job,
            run_id=run_id,
            details={"trigger": run.trigger, "params": run.params, "dry_run": run.dry_run},
        )
        return self._publish(run, previous)

    def record_process(self, run_id: int, pid: int) -> None:
        with self._database.write() as session:
            session.execute(update(Run).where(Run.id == run_id).values(pid=pid))

    def record_progress(self, ctx: RunContext, *, force: bool = False) -> None:
        """Write live counts at most once a second per run, so chatty jobs stay cheap."""
        now = time.monotonic()
        with self._lock:
            last = self._last_progress_write.get(ctx.run_id, 0.0)
            if not force and now - last < PROGRESS_WRITE_INTERVAL:
                return
            self._last_progress_write[ctx.run_id] = now
        counts = ctx.counts()
        with self._database.write() as session:
            session.execute(
                update(Run)
                .where(Run.id == ctx.run_id, Run.status == "running")
                .values(
                    records_processed=counts["processed"],
                    records_created=counts["created"],
                    records_updated=counts["updated"],
                    records_failed=counts["failed"],
                    message=ctx.state.message,
                )
            )
            run = session.get(Run, ctx.run_id)
        if run is not None and run.status == "running":
            self._publish(run, "running", ctx)
        else:
            # Late progress of a run that has ended (an abandoned thread): write nothing
            # and keep no throttle state for it, which ``finish`` has already cleared.
            with self._lock:
                self._last_progress_write.pop(ctx.run_id, None)

    def record_totals(
        self, run_id: int, counts: dict[str, int], message: str | None
    ) -> dict[str, Any]:
        """Store totals an external run reported; raises RunFinished once it is final.

        Unthrottled: the reporting client already sends at most about once a second.
        """
        with self._database.write() as session:
            run = _open_run(session, run_id)
            for name, value in counts.items():
                setattr(run, f"records_{name}", value)
            run.message = message or run.message
        return self._publish(run, run.status)

    def finish(
        self,
        run_id: int,
        status: str,
        *,
        error: str | None = None,
        counts: dict[str, int] | None = None,
        message: str | None = None,
        log_tail: str | None = None,
        result: dict[str, Any] | None = None,
        finished_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Make a run final; raises RunFinished when it already is.

        ``finished_at`` is for external runs whose report arrives late (spooled).
        """
        if status not in FINAL_STATUSES:
            raise ValueError(f"{status!r} is not a final status")
        with self._lock:
            self._last_progress_write.pop(run_id, None)
        now = finished_at or utcnow()
        with self._database.write() as session:
            run = _open_run(session, run_id)
            previous = run.status
            run.status = status
            run.finished_at = now
            if run.started_at is not None:
                run.duration_seconds = max((now - run.started_at).total_seconds(), 0.0)
            if counts:
                run.records_processed = counts.get("processed", run.records_processed)
                run.records_created = counts.get("created", run.records_created)
                run.records_updated = counts.get("updated", run.records_updated)
                run.records_failed = counts.get("failed", run.records_failed)
            run.error = error
            run.message = message or run.message
            run.log_tail = log_tail if log_tail is not None else run.log_tail
            run.result = result if result is not None else run.result
        self._log_finish(run)
        return self._publish(run, previous)

    def _log_finish(self, run: Run) -> None:
        counts = (
            f"{run.records_processed} processed, {run.records_created} created, "
            f"{run.records_updated} updated, {run.records_failed} failed"
        )
        took = f" in {run.duration_seconds:.1f}s" if run.duration_seconds is not None else ""
        text = f"Run #{run.id} of {run.job} ended {run.status}{took}: {counts}"
        if run.error:
            text += f" — {run.error.splitlines()[0][:300]}"
        log_activity(
            "job",
            text,
            status=_ACTIVITY_STATUS[run.status],
            job=run.job,
            run_id=run.id,
            details={
                "status": run.status,
                "duration_seconds": run.duration_seconds,
                "error": run.error,
                "dry_run": run.dry_run,
            },
        )

    def active_runs(self, job: str | None = None) -> list[Run]:
        with self._database.read() as session:
            query = select(Run).where(Run.status.in_(ACTIVE_STATUSES))
            if job is not None:
                query = query.where(Run.job == job)
            return list(session.scalars(query.order_by(Run.id)))

    def abandon_orphans(self, grace_for: Callable[[str], float]) -> list[int]:
        """Runs a dead process left queued or running become ``abandoned``.

        External runs are reported by other processes and keep their status. Processes
        a command run left behind are stopped, with the job's ``cancel_grace`` (from
        ``grace_for``) between SIGTERM and SIGKILL.
        """
        orphans = [run for run in self.active_runs() if run.trigger != "external"]
        stopped: dict[str, list[int]] = {}
        for run in orphans:
            if run.pid is not None:
                leftovers = stop_leftovers(run.id, run.pid, grace_for(run.job))
                if leftovers:
                    stopped[str(run.id)] = leftovers
            self.finish(
                run.id,
                "abandoned",
                error=f"the collector stopped while this run was {run.status}",
            )
        if orphans:
            message = f"Marked {len(orphans)} run(s) abandoned after an unclean stop"
            if stopped:
                count = sum(len(pids) for pids in stopped.values())
                message += f"; stopped {count} process(es) they left running"
            log_activity(
                "system",
                message,
                status="warning",
                details={"run_ids": [run.id for run in orphans], "stopped_pids": stopped},
            )
        return [run.id for run in orphans]
