"""How long ``/metrics`` takes with 1,000 jobs, against a bare ``generate_latest``.

The baseline is what a straightforward exporter would do: standard prometheus_client
Counter/Gauge/Histogram objects labelled by job, holding the very same samples
(checked below), encoded by ``generate_latest`` on every scrape. Ours is
``JobwatchMetrics.render``: per-job blocks cached until the job changes. Its timing
includes everything a scrape does, the 1,000 ``next_run`` look-ups in a real
(paused) APScheduler included; the baseline's does not even include that.

Run: ``.venv/bin/python bench/metrics_exposition.py [--jobs 1000] [--scrapes 20]``
"""

import argparse
import gzip
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import disable_created_metrics as _disable_created_metrics
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from collector.activity import ACTIVITY_STATUSES, ACTIVITY_TYPES
from collector.events import ActivityRecorded, RunChanged, ScheduleMissed
from collector.jobconfig import JobConfigBase
from exporters.families import JobStatic
from exporters.labels import DROP_REASONS, DURATION_BUCKETS, FINAL_STATUSES, RECORD_OUTCOMES
from exporters.metrics import JobwatchMetrics

START = datetime(2026, 3, 1, tzinfo=UTC)
SCHEDULES = ("every 5m", "*/15 * * * *", "0 * * * *", "every 30s", None)
KINDS = ("command", "python", "scrape")
SOURCES = ("hubspot", "site", "feed", None)
RUN_STATUSES = ("success",) * 6 + ("partial", "failed", "cancelled", "timed_out")


class Baseline:
    """The same metrics as plain prometheus_client objects in a registry of their own."""

    def __init__(self, jobs: list[JobConfigBase], version: str) -> None:
        self.registry = registry = CollectorRegistry()
        self.runs = Counter("jobwatch_job_runs", "-", ["job", "status"], registry=registry)
        self.duration = Histogram(
            "jobwatch_job_run_duration_seconds",
            "-",
            ["job"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge("jobwatch_job_runs_in_progress", "-", ["job"], registry=registry)
        self.queued = Gauge("jobwatch_job_runs_queued", "-", ["job"], registry=registry)
        self.records = Counter("jobwatch_job_records", "-", ["job", "outcome"], registry=registry)
        self.last_run = self._gauge("jobwatch_job_last_run_timestamp_seconds")
        self.last_success = self._gauge("jobwatch_job_last_success_timestamp_seconds")
        self.last_duration = self._gauge("jobwatch_job_last_run_duration_seconds")
        self.next_run = self._gauge("jobwatch_job_next_run_timestamp_seconds")
        stale = self._gauge("jobwatch_job_stale_after_seconds")
        info = Gauge(
            "jobwatch_job_info", "-", ["job", "kind", "source", "schedule"], registry=registry
        )
        self.missed = Counter("jobwatch_scheduler_missed_runs", "-", ["job"], registry=registry)
        self.activity = Counter(
            "jobwatch_activity_events", "-", ["type", "status"], registry=registry
        )
        dropped = Counter("jobwatch_activity_dropped", "-", ["reason"], registry=registry)
        Gauge("jobwatch_activity_queue_size", "-", registry=registry)
        Counter("jobwatch_retention_deleted", "-", registry=registry)
        Gauge("jobwatch_build_info", "-", ["version"], registry=registry).labels(version).set(1)
        for job in jobs:
            static = JobStatic.from_config(job)
            for status in FINAL_STATUSES:
                self.runs.labels(job.name, status)
            for outcome in RECORD_OUTCOMES:
                self.records.labels(job.name, outcome)
            self.duration.labels(job.name)
            self.in_progress.labels(job.name)
            self.queued.labels(job.name)
            self.missed.labels(job.name)
            info.labels(job.name, static.kind, static.source, static.schedule).set(1)
            if static.stale_after is not None:
                stale.labels(job.name).set(static.stale_after)
        for type_ in ACTIVITY_TYPES:
            for status in ACTIVITY_STATUSES:
                self.activity.labels(type_, status)
        for reason in DROP_REASONS:
            dropped.labels(reason)

    def _gauge(self, name: str) -> Gauge:
        return Gauge(name, "-", ["job"], registry=self.registry)

    def finish(self, run: dict) -> None:
        job, duration = run["job"], run["duration_seconds"]
        finished = datetime.fromisoformat(run["finished_at"]).timestamp()
        self.runs.labels(job, run["status"]).inc()
        for outcome in RECORD_OUTCOMES:
            self.records.labels(job, outcome).inc(run[f"records_{outcome}"])
        self.duration.labels(job).observe(duration, {"trace_id": run["trace_id"]})
        self.last_run.labels(job).set(finished)
        self.last_duration.labels(job).set(duration)
        if run["status"] == "success":
            self.last_success.labels(job).set(finished)


class Workload:
    """Feeds identical runs to both sides; ``next_id`` keeps run ids unique."""

    def __init__(self, ours: JobwatchMetrics, baseline: Baseline, seed: int = 7) -> None:
        self.ours, self.baseline = ours, baseline
        self.random = random.Random(seed)
        self.next_id = 1
        self.clock = START

    def run(self, job: str) -> None:
        duration = round(self.random.lognormvariate(4, 1.5), 3)
        self.clock += timedelta(seconds=1)
        started = self.clock - timedelta(seconds=duration)
        processed = self.random.randrange(0, 5000)
        failed = self.random.randrange(0, 3)
        run = {
            "id": self.next_id,
            "job": job,
            "status": "queued",
            "dry_run": False,
            "started_at": None,
            "finished_at": None,
            "duration_seconds": None,
            "records_processed": processed,
            "records_created": processed // 10,
            "records_updated": processed // 3,
            "records_failed": failed,
            "trace_id": f"{self.random.getrandbits(128):032x}",
        }
        self.next_id += 1
        self.ours.handle(RunChanged(run=dict(run), previous_status=None))
        run.update(status="running", started_at=started.isoformat())
        self.ours.handle(RunChanged(run=dict(run), previous_status="queued"))
        run.update(
            status=self.random.choice(RUN_STATUSES),
            finished_at=self.clock.isoformat(),
            duration_seconds=duration,
        )
        self.ours.handle(RunChanged(run=dict(run), previous_status="running"))
        self.baseline.finish(run)

    def missed(self, job: str) -> None:
        self.ours.handle(ScheduleMissed(job=job, scheduled_at=self.clock))
        self.baseline.missed.labels(job).inc()

    def activity(self) -> None:
        type_, status = self.random.choice(ACTIVITY_TYPES), self.random.choice(ACTIVITY_STATUSES)
        self.ours.handle(ActivityRecorded(entry={"type": type_, "status": status}))
        self.baseline.activity.labels(type_, status).inc()


def make_jobs(count: int) -> list[JobConfigBase]:
    return [
        JobConfigBase(
            name=f"job_{index:04d}",
            kind=KINDS[index % len(KINDS)],
            schedule=SCHEDULES[index % len(SCHEDULES)],
            source=SOURCES[index % len(SOURCES)],
            stale_after="6h" if index % 7 == 0 else None,
        )
        for index in range(count)
    ]


def paused_scheduler(jobs: list[JobConfigBase]) -> BackgroundScheduler:
    """A real scheduler holding every job, as ``collector.scheduling`` sets it up."""
    scheduler = BackgroundScheduler(timezone=UTC)
    for job in jobs:
        if job.schedule is not None:
            scheduler.add_job(print, job.schedule.trigger(), id=f"job:{job.name}")
    scheduler.start(paused=True)
    return scheduler


def median_ms(action: Callable[[], object], repeats: int, before: Callable[[], None]) -> float:
    times = []
    for _ in range(repeats):
        before()
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def samples(exposition: bytes) -> dict:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition.decode())
        for sample in family.samples
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--changed", type=int, default=20, help="jobs with a new run per scrape")
    args = parser.parse_args()
    _disable_created_metrics()  # our counters carry no _created series; same samples both sides

    jobs = make_jobs(args.jobs)
    scheduler = paused_scheduler(jobs)

    def next_run(name: str) -> datetime | None:
        job = scheduler.get_job(f"job:{name}")
        return job.next_run_time if job is not None else None

    ours = JobwatchMetrics(
        CollectorRegistry(), jobs, next_run=next_run, queue_size=lambda: 0, version="bench"
    )
    baseline = Baseline(jobs, "bench")
    workload = Workload(ours, baseline)
    for job in jobs:
        for _ in range(5):
            workload.run(job.name)
        if workload.random.random() < 0.1:
            workload.missed(job.name)
    for _ in range(2000):
        workload.activity()
    for job in jobs:
        upcoming = next_run(job.name)
        if upcoming is not None:
            baseline.next_run.labels(job.name).set(upcoming.timestamp())

    started = time.perf_counter()
    ours_text = ours.render(openmetrics=False)
    cold_ms = (time.perf_counter() - started) * 1000
    base_text = generate_latest(baseline.registry)
    assert samples(ours_text) == samples(base_text), "the two sides must hold the same samples"
    sample_count = len(samples(ours_text))

    def churn() -> None:
        for job in workload.random.sample(jobs, args.changed):
            workload.run(job.name)

    def idle() -> None:
        pass

    rows = []
    for label, openmetrics, encode in (
        ("text 0.0.4", False, generate_latest),
        ("OpenMetrics", True, generate_openmetrics),
    ):
        ours.render(openmetrics=openmetrics)  # warm this format's cache

        def render(openmetrics: bool = openmetrics) -> bytes:
            return ours.render(openmetrics=openmetrics)

        def bare(encode: Callable = encode) -> bytes:
            return encode(baseline.registry)

        for case, before in (("no change", idle), (f"{args.changed} jobs changed", churn)):
            base_ms = median_ms(bare, args.scrapes, before)
            ours_ms = median_ms(render, args.scrapes, before)
            rows.append((label, case, base_ms, ours_ms))
    body = ours.render(openmetrics=True)
    gzip_ms = median_ms(lambda: gzip.compress(body, compresslevel=1), args.scrapes, idle)
    scheduler.shutdown(wait=False)

    print(f"{args.jobs} jobs, {sample_count} samples, {len(ours_text) / 1e6:.2f} MB text")
    print(f"first render (cold cache, every block): {cold_ms:.1f} ms")
    print(f"{'format':<12} {'case':<18} {'generate_latest':>16} {'render':>10} {'speed-up':>9}")
    for label, case, base_ms, ours_ms in rows:
        ratio = base_ms / ours_ms
        print(f"{label:<12} {case:<18} {base_ms:>13.1f} ms {ours_ms:>7.1f} ms {ratio:>8.1f}x")
    print(f"gzip level 1 of the OpenMetrics body (when asked): {gzip_ms:.1f} ms")


if __name__ == "__main__":
    main()
