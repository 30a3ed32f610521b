"""The contract's metric families: names, help texts, units, fixed label values, buckets.

Every family is built here and only here, so the fast cached exposition and the
registry's ordinary ``collect()`` produce the very same samples. A family is always
yielded, even without samples, so each job's rendered block has the same families in
the same order (``exporters.blocks`` relies on that to splice blocks together).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

from collector.jobconfig import JobConfigBase
from exporters.jobstate import JobState
from exporters.labels import DURATION_BUCKETS, FINAL_STATUSES, RECORD_OUTCOMES

_BUCKET_LABELS = tuple(floatToGoString(bound) for bound in DURATION_BUCKETS)


@dataclass(frozen=True)
class JobStatic:
    """What a job exports straight from its config (label values and staleness bound)."""

    name: str
    kind: str
    source: str
    schedule: str
    stale_after: float | None

    @classmethod
    def from_config(cls, config: JobConfigBase) -> "JobStatic":
        return cls(
            name=config.name,
            kind=config.kind,
            source=config.source or "",
            schedule=str(config.schedule) if config.schedule is not None else "",
            stale_after=config.effective_stale_after(),
        )


def job_families(jobs: Iterable[tuple[JobStatic, JobState]]) -> list[Metric]:
    """All per-job families for ``jobs``; final statuses and outcomes always present as 0."""
    runs = CounterMetricFamily(
        "jobwatch_job_runs", "Finished runs by final status.", labels=("job", "status")
    )
    duration = HistogramMetricFamily(
        "jobwatch_job_run_duration_seconds",
        "Duration of finished runs that started; exemplars carry the run's trace_id.",
        labels=("job",),
        unit="seconds",
    )
    in_progress = GaugeMetricFamily(
        "jobwatch_job_runs_in_progress", "Runs currently running.", labels=("job",)
    )
    queued = GaugeMetricFamily(
        "jobwatch_job_runs_queued", "Runs waiting for a free slot.", labels=("job",)
    )
    records = CounterMetricFamily(
        "jobwatch_job_records",
        "Records handled by finished runs, by outcome.",
        labels=("job", "outcome"),
    )
    last_run = GaugeMetricFamily(
        "jobwatch_job_last_run_timestamp_seconds",
        "When the job's last run finished (Unix time); restored from the database at start-up.",
        labels=("job",),
        unit="seconds",
    )
    last_success = GaugeMetricFamily(
        "jobwatch_job_last_success_timestamp_seconds",
        "When the job last finished with status success, dry runs excluded (Unix time).",
        labels=("job",),
        unit="seconds",
    )
    last_duration = GaugeMetricFamily(
        "jobwatch_job_last_run_duration_seconds",
        "Duration of the job's last finished run.",
        labels=("job",),
        unit="seconds",
    )
    next_run = GaugeMetricFamily(
        "jobwatch_job_next_run_timestamp_seconds",
        "When the scheduler fires the job next (Unix time); absent for manual-only jobs.",
        labels=("job",),
        unit="seconds",
    )
    stale_after = GaugeMetricFamily(
        "jobwatch_job_stale_after_seconds",
        "A job without a success for this long is stale (config, or about two intervals).",
        labels=("job",),
        unit="seconds",
    )
    info = GaugeMetricFamily(
        "jobwatch_job_info",
        "Configured jobs (always 1), labelled with kind, source and schedule.",
        labels=("job", "kind", "source", "schedule"),
    )
    missed = CounterMetricFamily(
        "jobwatch_scheduler_missed_runs",
        "Scheduled fire times the scheduler skipped.",
        labels=("job",),
    )
    for static, state in jobs:
        job = [static.name]
        for status in FINAL_STATUSES:
            runs.add_metric([static.name, status], state.runs[status])
        duration.add_metric(job, _buckets(state), state.duration_sum)
        in_progress.add_metric(job, state.in_progress)
        queued.add_metric(job, state.queued)
        for outcome in RECORD_OUTCOMES:
            records.add_metric([static.name, outcome], state.records[outcome])
        _add_optional(last_run, job, state.last_run)
        _add_optional(last_success, job, state.last_success)
        _add_optional(last_duration, job, state.last_duration)
        _add_optional(next_run, job, state.next_run)
        _add_optional(stale_after, job, static.stale_after)
        info.add_metric([static.name, static.kind, static.source, static.schedule], 1)
        missed.add_metric(job, state.missed)
    return [
        runs,
        duration,
        in_progress,
        queued,
        records,
        last_run,
        last_success,
        last_duration,
        next_run,
        stale_after,
        info,
        missed,
    ]


def global_families(
    *,
    activity: Mapping[tuple[str, str], int],
    dropped: Mapping[str, int],
    queue_size: int,
    retention_deleted: int,
    version: str,
) -> list[Metric]:
    """The families that are not per job; small, so they are rendered on every scrape."""
    events = CounterMetricFamily(
        "jobwatch_activity_events",
        "Activity entries written, by type and status.",
        labels=("type", "status"),
    )
    for (type_, status), value in activity.items():
        events.add_metric([type_, status], value)
    drops = CounterMetricFamily(
        "jobwatch_activity_dropped",
        "Activity entries dropped instead of written, by reason.",
        labels=("reason",),
    )
    for reason, value in dropped.items():
        drops.add_metric([reason], value)
    return [
        events,
        drops,
        GaugeMetricFamily(
            "jobwatch_activity_queue_size",
            "Activity entries waiting to be written.",
            value=queue_size,
        ),
        CounterMetricFamily(
            "jobwatch_retention_deleted",
            "Rows deleted by the retention cleanup.",
            value=retention_deleted,
        ),
        _build_info(version),
    ]


def _build_info(version: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "jobwatch_build_info", "The running jobwatch version (always 1).", labels=("version",)
    )
    family.add_metric([version], 1)
    return family


def _buckets(state: JobState) -> list[tuple[str, float] | tuple[str, float, Exemplar]]:
    """Cumulative buckets, each with the exemplar of the last run that fell into it."""
    result: list[tuple[str, float] | tuple[str, float, Exemplar]] = []
    total = 0
    for label, count, exemplar in zip(
        _BUCKET_LABELS, state.bucket_counts, state.exemplars, strict=True
    ):
        total += count
        result.append((label, total) if exemplar is None else (label, total, exemplar))
    return result


def _add_optional(family: GaugeMetricFamily, labels: list[str], value: float | None) -> None:
    if value is not None:
        family.add_metric(labels, value)
