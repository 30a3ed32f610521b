"""Turns the collector's events into the contract's Prometheus metrics.

:class:`JobwatchMetrics` is an EventBus subscriber (:meth:`~JobwatchMetrics.handle`)
and a prometheus_client collector registered in the registry it is given, so a plain
``generate_latest(registry)`` shows everything. ``/metrics`` uses
:meth:`~JobwatchMetrics.render` instead: the same samples, but each job's block comes
from a cache that is rebuilt only for the jobs that changed (see ``exporters.blocks``),
which keeps a scrape of 1,000 jobs cheap.

Label values come only from the config and fixed enums: an event about a job that is
not configured, or with an unknown status, type or reason, changes nothing.
"""

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from sqlalchemy.orm import Session

from collector.activity import ACTIVITY_STATUSES, ACTIVITY_TYPES
from collector.events import (
    ActivityDropped,
    ActivityRecorded,
    Event,
    RetentionDeleted,
    RunChanged,
    ScheduleMissed,
)
from collector.jobconfig import JobConfigBase
from exporters.blocks import BlockCache
from exporters.families import JobStatic, global_families, job_families
from exporters.jobstate import JobState, timestamp
from exporters.labels import DROP_REASONS, FINAL_STATUSES, LIVE_STATUSES
from exporters.restore import load_history

# How many finished run ids to remember, so a late or repeated event for a run that
# already finished can neither count it twice nor bring it back to "in progress".
FINISHED_RUNS_REMEMBERED = 10_000


class JobwatchMetrics:
    """Every metric of the contract except the probes' (those come from ``ProbeMetrics``)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        jobs: Sequence[JobConfigBase],
        *,
        next_run: Callable[[str], datetime | None],
        queue_size: Callable[[], int],
        version: str,
    ) -> None:
        self._registry = registry
        self._next_run = next_run
        self._queue_size = queue_size
        self._version = version
        # _lock guards the values below; events take it briefly on the publisher's thread.
        self._lock = threading.Lock()
        self._statics: dict[str, JobStatic] = {}
        self._states: dict[str, JobState] = {}
        self._versions: dict[str, int] = {}
        self._live: dict[int, tuple[str, str]] = {}
        self._finished: dict[int, None] = {}
        self._activity = {(t, s): 0 for t in ACTIVITY_TYPES for s in ACTIVITY_STATUSES}
        self._dropped = dict.fromkeys(DROP_REASONS, 0)
        self._retention_deleted = 0
        # _render_lock serialises scrapes, which fill the caches, without blocking events.
        self._render_lock = threading.Lock()
        self._caches = {
            False: BlockCache(generate_latest, job_families([])),
            True: BlockCache(generate_openmetrics, job_families([])),
        }
        self._in_render = threading.local()
        self.set_jobs(jobs)
        registry.register(self)

    # -- configuration and start-up -------------------------------------------------

    def set_jobs(self, jobs: Sequence[JobConfigBase]) -> None:
        """Export exactly these jobs; a kept job keeps its values, a removed one vanishes."""
        statics = {job.name: JobStatic.from_config(job) for job in jobs}
        with self._render_lock, self._lock:
            removed = set(self._statics) - set(statics)
            self._statics = statics
            self._states = {name: self._states.get(name) or JobState() for name in statics}
            self._versions = {name: self._versions.get(name, 0) + 1 for name in statics}
            self._live = {run: s for run, s in self._live.items() if s[0] not in removed}
            for cache in self._caches.values():
                cache.forget(removed)

    def restore(self, session: Session) -> None:
        """Set the ``last_*`` gauges and the live-run gauges from the run history.

        Call it once at start-up, before the scheduler starts. Runs a previous process
        left queued or running count as live until the event that settles them (their
        abandonment) arrives, so restoring before or after that step is equally right.
        """
        history = load_history(session, list(self._statics))
        with self._lock:
            for job, (finished, duration) in history.last_run.items():
                if job in self._states:
                    self._states[job].note_last_run(finished, duration)
                    self._versions[job] += 1
            for job, finished in history.last_success.items():
                if job in self._states:
                    self._states[job].note_last_success(finished)
                    self._versions[job] += 1
            for run_id, (job, status) in history.live.items():
                if job in self._states and run_id not in self._live:
                    self._live[run_id] = (job, status)
                    self._count_live(job, status, +1)
                    self._versions[job] += 1

    # -- events -----------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """EventBus subscriber: a few dictionary updates, safe on any thread."""
        match event:
            case RunChanged():
                self._run_changed(event)
            case ScheduleMissed(job=job):
                with self._lock:
                    if job in self._states:
                        self._states[job].missed += 1
                        self._versions[job] += 1
            case ActivityRecorded(entry=entry):
                key = (entry.get("type"), entry.get("status"))
                with self._lock:
                    if key in self._activity:
                        self._activity[key] += 1
            case ActivityDropped(reason=reason, count=count):
                with self._lock:
                    if reason in self._dropped:
                        self._dropped[reason] += count
            case RetentionDeleted(count=count):
                with self._lock:
                    self._retention_deleted += count

    def _run_changed(self, event: RunChanged) -> None:
        run: dict[str, Any] = event.run
        job, run_id, status = run["job"], run["id"], run["status"]
        with self._lock:
            if job not in self._states or run_id in self._finished:
                return
            previous = self._live.get(run_id)
            if previous is not None and previous[1] == status:
                return  # a progress update: no metric moves until the status does
            if previous is not None:
                del self._live[run_id]
                self._count_live(job, previous[1], -1)
            if status in LIVE_STATUSES:
                self._live[run_id] = (job, status)
                self._count_live(job, status, +1)
            elif status in FINAL_STATUSES and event.finished:
                self._remember_finished(run_id)
                self._states[job].finish(run)
            self._versions[job] += 1

    def _count_live(self, job: str, status: str, delta: int) -> None:
        state = self._states[job]
        if status == "running":
            state.in_progress += delta
        else:
            state.queued += delta

    def _remember_finished(self, run_id: int) -> None:
        self._finished[run_id] = None
        if len(self._finished) > FINISHED_RUNS_REMEMBERED:
            del self._finished[next(iter(self._finished))]

    # -- exposition ---------------------------------------------------------------------

    def render(self, *, openmetrics: bool) -> bytes:
        """The whole registry's exposition, job families from the per-job block cache."""
        self._refresh_next_runs()
        cache = self._caches[openmetrics]
        with self._render_lock:
            with self._lock:
                order = list(self._statics)
                stale = [
                    (job, self._versions[job], self._statics[job], self._states[job].snapshot())
                    for job in order
                    if not cache.is_current(job, self._versions[job])
                ]
            for job, version, static, state in stale:
                cache.store(job, version, job_families([(static, state)]))
            jobs_part = cache.splice(order)
        encode = generate_openmetrics if openmetrics else generate_latest
        # The registry's own pass must skip the job families rendered just above.
        self._in_render.active = True
        try:
            rest = encode(self._registry)
        finally:
            self._in_render.active = False
        return jobs_part + rest

    def collect(self) -> Iterator[Metric]:
        """prometheus_client collector protocol (the uncached path, and ``render``'s rest)."""
        if not getattr(self._in_render, "active", False):
            self._refresh_next_runs()
            with self._lock:
                jobs = [(self._statics[j], self._states[j].snapshot()) for j in self._statics]
            yield from job_families(jobs)
        queue_size = self._queue_size()
        with self._lock:
            activity, dropped = dict(self._activity), dict(self._dropped)
            retention_deleted = self._retention_deleted
        yield from global_families(
            activity=activity,
            dropped=dropped,
            queue_size=queue_size,
            retention_deleted=retention_deleted,
            version=self._version,
        )

    def describe(self) -> list[Metric]:
        """Names for the registry's duplicate check, without calling any callback."""
        return job_families([]) + global_families(
            activity={}, dropped={}, queue_size=0, retention_deleted=0, version=self._version
        )

    def _refresh_next_runs(self) -> None:
        """Ask the scheduler (outside our lock) and re-render only jobs whose time moved."""
        with self._lock:
            jobs = list(self._statics)
        upcoming = {job: timestamp(self._next_run(job)) for job in jobs}
        with self._lock:
            for job, value in upcoming.items():
                state = self._states.get(job)
                if state is not None and state.next_run != value:
                    state.next_run = value
                    self._versions[job] += 1
