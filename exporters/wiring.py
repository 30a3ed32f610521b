"""One call that plugs the metrics into a collector: registry, probes, history, events."""

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from prometheus_client import CollectorRegistry

from collector.events import EventBus
from collector.jobconfig import JobConfigBase
from collector.probes.manager import ProbeManager
from collector.store.database import Database
from exporters.metrics import JobwatchMetrics
from exporters.probes import ProbeMetrics


class _Settings(Protocol):
    @property
    def jobs(self) -> Sequence[JobConfigBase]: ...


class _Activity(Protocol):
    def queue_size(self) -> int: ...


class MetricsHost(Protocol):
    """What ``install_metrics`` needs from ``collector.service.Collector``."""

    @property
    def settings(self) -> _Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def bus(self) -> EventBus: ...
    @property
    def activity(self) -> _Activity: ...
    @property
    def probes(self) -> ProbeManager: ...
    @property
    def version(self) -> str: ...
    def scheduler_next_run(self, job_name: str) -> datetime | None: ...


def install_metrics(collector: MetricsHost) -> JobwatchMetrics:
    """A fresh registry with every jobwatch metric, restored from the history and subscribed.

    Call it in ``Collector.start()`` after the migration and before
    ``abandon_orphans()``: runs left over are then restored as queued/running and
    their abandonment is counted (``jobwatch_job_runs_total{status="abandoned"}``).
    """
    registry = CollectorRegistry()
    metrics = JobwatchMetrics(
        registry,
        collector.settings.jobs,
        next_run=collector.scheduler_next_run,
        queue_size=collector.activity.queue_size,
        version=collector.version,
    )
    registry.register(ProbeMetrics(collector.probes))
    with collector.db.read() as session:
        metrics.restore(session)
    collector.bus.subscribe(metrics.handle)
    return metrics
