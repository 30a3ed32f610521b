"""Runs of ``external`` jobs: started, advanced and ended by reports from elsewhere.

A reporter may retry any request (its network, our restart), so a start carrying a
``client_run_id`` already seen for that job returns the run it created instead of a
second one, and a late report (replayed from a client's spool) keeps the times it
carries. A run whose reporter dies never finishes by itself; when its job has a
``timeout`` a background sweep records it ``timed_out``.
"""

from datetime import datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Status, StatusCode
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from collector.config import Settings
from collector.counts import COUNT_NAMES, LOG_TAIL_LINES
from collector.durations import format_duration
from collector.events import utcnow
from collector.jobconfig import JobConfigBase
from collector.params import redact, validate_params
from collector.runs import FINAL_STATUSES, RunFinished, RunStore, run_view
from collector.store.database import Database
from collector.store.models import Run
from collector.tasks import BackgroundTasks

EXTERNAL_TRIGGER = "external"
SWEEP_TASK = "external_run_timeouts"
LOG_TAIL_CHARS = 64_000
MESSAGE_CHARS = 4_000
ERROR_CHARS = 20_000
REPORTED_STATUSES = tuple(status for status in FINAL_STATUSES if status != "abandoned")
tracer = trace.get_tracer(__name__)


class NotExternal(Exception):
    """The job or run belongs to the collector, which records it itself."""


def _clip(text: str | None, limit: int) -> str | None:
    """Oversized reports are cut, never refused: a refused finish would lose the whole run."""
    return text[:limit] if text is not None else None


def _capped_tail(log_tail: str | None) -> str | None:
    """The last lines, as kept for runs the collector executes: one report cannot bloat the DB."""
    if log_tail is None:
        return None
    return "\n".join(log_tail.splitlines()[-LOG_TAIL_LINES:])[-LOG_TAIL_CHARS:]


def _nanos(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1e9)


def _trace_run(view: dict[str, Any], parent: Context | None) -> None:
    """The run's span, made at the end with the reported times, inside the caller's trace.

    Only when the finish carries the trace the run was started in: a span without
    its parent would start a trace nobody can find from the run.
    """
    if parent is None or view["trace_id"] is None or view["started_at"] is None:
        return
    caller = trace.get_current_span(parent).get_span_context()
    if not caller.is_valid or trace.format_trace_id(caller.trace_id) != view["trace_id"]:
        return
    span = tracer.start_span(
        f"jobwatch.run {view['job']}",
        context=parent,
        start_time=_nanos(view["started_at"]),
        attributes={
            "jobwatch.job": view["job"],
            "jobwatch.run_id": view["id"],
            "jobwatch.kind": "external",
            "jobwatch.status": view["status"],
            **{f"jobwatch.records.{name}": view[f"records_{name}"] for name in COUNT_NAMES},
        },
    )
    if view["status"] in ("failed", "timed_out"):
        span.set_status(Status(StatusCode.ERROR, view["error"]))
    span.end(end_time=_nanos(view["finished_at"]))


class ExternalRuns:
    def __init__(self, settings: Settings, database: Database, runs: RunStore) -> None:
        self._settings = settings
        self._database = database
        self._runs = runs

    def _existing(self, job: str, client_run_id: str) -> Run | None:
        with self._database.read() as session:
            return session.scalars(
                select(Run).where(Run.job == job, Run.client_run_id == client_run_id)
            ).first()

    def start(
        self,
        job: JobConfigBase,
        params: dict[str, Any] | None,
        *,
        client_run_id: str | None = None,
        started_at: datetime | None = None,
        trace_id: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """The running run and whether this call created it (False: a retried start).

        Raises NotExternal or ParamsError. A ``started_at`` ahead of our clock is
        taken as now: a run cannot have begun in the future, only on a fast clock.
        """
        if job.runs_here():
            raise NotExternal(
                f"job {job.name!r} is a {job.kind} job that the collector runs and records "
                f"itself; only external jobs report in (trigger it with POST /jobs/{job.name}/runs)"
            )
        checked = validate_params(job.params, params)
        if client_run_id is not None:
            existing = self._existing(job.name, client_run_id)
            if existing is not None:
                return run_view(existing), False
        try:
            created = self._runs.create(
                job.name,
                redact(job.params, checked),
                trigger=EXTERNAL_TRIGGER,
                client_run_id=client_run_id,
            )
        except IntegrityError:
            existing = self._existing(job.name, client_run_id) if client_run_id else None
            if existing is None:
                raise
            return run_view(existing), False
        now = utcnow()
        began = min(started_at, now) if started_at is not None else now
        return self._runs.mark_running(created["id"], trace_id, started_at=began), True

    def _external_row(self, run_id: int) -> Run:
        run = self._runs.get_row(run_id)
        if run.trigger != EXTERNAL_TRIGGER:
            raise NotExternal(
                f"run {run_id} was started by the collector ({run.trigger}); it records its own "
                "progress and end"
            )
        return run

    def progress(self, run_id: int, totals: dict[str, int], message: str | None) -> dict[str, Any]:
        """Replace the counts given (cumulative totals).

        Raises UnknownRun, NotExternal, or RunFinished once the run is final.
        """
        self._external_row(run_id)
        return self._runs.record_totals(run_id, totals, _clip(message, MESSAGE_CHARS))

    def finish(
        self,
        run_id: int,
        status: str,
        *,
        totals: dict[str, int],
        message: str | None = None,
        error: str | None = None,
        log_tail: str | None = None,
        result: dict[str, Any] | None = None,
        finished_at: datetime | None = None,
        parent: Context | None = None,
    ) -> dict[str, Any]:
        """End the run with what the reporter says; raises UnknownRun, NotExternal, RunFinished.

        ``finished_at`` is kept between the run's start and now, so clock skew can
        neither give a negative duration nor a run that ends in the future.
        """
        run = self._external_row(run_id)
        now = utcnow()
        ended = min(finished_at, now) if finished_at is not None else now
        if run.started_at is not None:
            ended = max(ended, run.started_at)
        view = self._runs.finish(
            run_id,
            status,
            error=_clip(error, ERROR_CHARS),
            counts=totals,
            message=_clip(message, MESSAGE_CHARS),
            log_tail=_capped_tail(log_tail),
            result=result,
            finished_at=ended,
        )
        _trace_run(view, parent)
        return view

    def sweep(self) -> dict[str, Any]:
        """End external runs that outlived their job's ``timeout`` without a finish.

        The clock starts when the collector heard of the run, not at its reported
        start: a run replayed from a spool long after it began must have time to
        deliver its finish.
        """
        now = utcnow()
        ended: list[int] = []
        for run in self._runs.active_runs():
            job = self._settings.job(run.job)
            if run.trigger != EXTERNAL_TRIGGER or job is None or job.timeout is None:
                continue
            since = max(run.started_at or run.queued_at, run.queued_at)
            if (now - since).total_seconds() < job.timeout:
                continue
            try:
                self._runs.finish(
                    run.id,
                    "timed_out",
                    error=f"no finish was reported within {format_duration(job.timeout)}",
                )
            except RunFinished:
                continue
            ended.append(run.id)
        return {"timed_out": len(ended), "run_ids": ended}

    def schedule_sweep(self, tasks: BackgroundTasks) -> None:
        """Sweep often enough to end a run within about a quarter of its timeout (1-5 s)."""
        timeouts = [
            job.timeout
            for job in self._settings.jobs
            if not job.runs_here() and job.timeout is not None
        ]
        if timeouts:
            tasks.add(SWEEP_TASK, self.sweep, min(max(min(timeouts) / 4, 1.0), 5.0))
