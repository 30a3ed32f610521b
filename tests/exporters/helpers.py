"""Builders for run events and readers for expositions, shared by the exporter tests."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from collector.events import RunChanged
from collector.jobconfig import JobConfigBase
from exporters.metrics import JobwatchMetrics

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"

JOBS = [
    JobConfigBase(name="crm", kind="command", schedule="*/15 * * * *", source="hubspot"),
    JobConfigBase(name="playlist", kind="python", schedule="every 30s", stale_after="2h"),
    JobConfigBase(name="manual", kind="scrape"),
]


def run_view(run_id: int, job: str, status: str, **fields: Any) -> dict[str, Any]:
    """A run's API form as ``collector.runs.run_view`` shapes it."""
    view: dict[str, Any] = {
        "id": run_id,
        "job": job,
        "status": status,
        "trigger": "schedule",
        "params": {},
        "dry_run": False,
        "queued_at": T0.isoformat(),
        "started_at": None,
        "finished_at": None,
        "duration_seconds": None,
        "records_processed": 0,
        "records_created": 0,
        "records_updated": 0,
        "records_failed": 0,
        "error": None,
        "trace_id": None,
    }
    view.update(fields)
    return view


def play_run(
    metrics: JobwatchMetrics,
    run_id: int,
    job: str,
    final: str,
    *,
    duration: float = 30.0,
    finished_at: datetime = T0 + timedelta(minutes=1),
    trace_id: str | None = TRACE_ID,
    **fields: Any,
) -> None:
    """queued → running (with a progress update) → ``final``, as the executor publishes them."""
    started_at = finished_at - timedelta(seconds=duration)
    queued = run_view(run_id, job, "queued", **fields)
    metrics.handle(RunChanged(run=queued, previous_status=None))
    running = {**queued, "status": "running", "started_at": started_at.isoformat()}
    running["trace_id"] = trace_id
    metrics.handle(RunChanged(run=running, previous_status="queued"))
    metrics.handle(RunChanged(run=running, previous_status="running"))
    done = {
        **running,
        "status": final,
        "finished_at": finished_at.isoformat(),
        "duration_seconds": duration,
    }
    metrics.handle(RunChanged(run=done, previous_status="running"))


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(exposition: bytes) -> Samples:
    """Every sample of a text-format exposition, keyed by name and label set."""
    result: Samples = {}
    for family in text_string_to_metric_families(exposition.decode()):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in result, f"duplicate series {key}"
            result[key] = sample.value
    return result


def value(exposition: bytes | Samples, name: str, **labels: str) -> float | None:
    """One sample's value, or None when the series is absent."""
    parsed = samples(exposition) if isinstance(exposition, bytes) else exposition
    return parsed.get((name, frozenset(labels.items())))


def series(exposition: bytes | Samples, name: str) -> list[dict[str, str]]:
    parsed = samples(exposition) if isinstance(exposition, bytes) else exposition
    return [dict(labels) for sample, labels in parsed if sample == name]


def job_labels(parsed: Samples) -> set[str]:
    return {dict(labels)["job"] for _, labels in parsed if "job" in dict(labels)}


def names(parsed: Iterable[tuple[str, frozenset[tuple[str, str]]]]) -> set[str]:
    return {name for name, _ in parsed}
