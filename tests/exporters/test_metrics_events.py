"""Events in, exact sample values out: each test feeds real collector events."""

import threading
from datetime import timedelta

from collector.activity import ACTIVITY_STATUSES, ACTIVITY_TYPES
from collector.events import (
    ActivityDropped,
    ActivityRecorded,
    RetentionDeleted,
    RunChanged,
    ScheduleMissed,
)
from collector.jobconfig import JobConfigBase
from exporters.labels import DURATION_BUCKETS, FINAL_STATUSES, RECORD_OUTCOMES
from exporters.metrics import JobwatchMetrics
from tests.exporters.conftest import NEXT_RUNS, MakeMetrics
from tests.exporters.helpers import (
    T0,
    TRACE_ID,
    job_labels,
    play_run,
    run_view,
    samples,
    series,
    value,
)

RUNS = "jobwatch_job_runs_total"
RECORDS = "jobwatch_job_records_total"
BUCKET = "jobwatch_job_run_duration_seconds_bucket"
COUNT = "jobwatch_job_run_duration_seconds_count"
SUM = "jobwatch_job_run_duration_seconds_sum"
IN_PROGRESS = "jobwatch_job_runs_in_progress"
QUEUED = "jobwatch_job_runs_queued"
LAST_RUN = "jobwatch_job_last_run_timestamp_seconds"
LAST_SUCCESS = "jobwatch_job_last_success_timestamp_seconds"
LAST_DURATION = "jobwatch_job_last_run_duration_seconds"


def text(metrics: JobwatchMetrics) -> bytes:
    return metrics.render(openmetrics=False)


def test_every_known_series_is_exported_from_the_start(make_metrics: MakeMetrics) -> None:
    parsed = samples(text(make_metrics(queue_size=lambda: 7)))
    for job in ("crm", "playlist", "manual"):
        for status in FINAL_STATUSES:
            assert value(parsed, RUNS, job=job, status=status) == 0
        for outcome in RECORD_OUTCOMES:
            assert value(parsed, RECORDS, job=job, outcome=outcome) == 0
        for name in (IN_PROGRESS, QUEUED, "jobwatch_scheduler_missed_runs_total", COUNT, SUM):
            assert value(parsed, name, job=job) == 0
        assert len(series(parsed, BUCKET)) == 3 * len(DURATION_BUCKETS)
        for name in (LAST_RUN, LAST_SUCCESS, LAST_DURATION):
            assert value(parsed, name, job=job) is None
    for type_ in ACTIVITY_TYPES:
        for status in ACTIVITY_STATUSES:
            assert value(parsed, "jobwatch_activity_events_total", type=type_, status=status) == 0
    assert len(series(parsed, "jobwatch_activity_events_total")) == 40
    assert series(parsed, "jobwatch_activity_dropped_total") == [
        {"reason": "queue_full"},
        {"reason": "write_error"},
    ]
    assert value(parsed, "jobwatch_activity_dropped_total", reason="queue_full") == 0
    assert value(parsed, "jobwatch_retention_deleted_total") == 0
    assert value(parsed, "jobwatch_activity_queue_size") == 7
    assert value(parsed, "jobwatch_build_info", version="1.2.3") == 1
    assert not any(name.endswith("_created") for name, _ in parsed)


def test_config_gauges_come_from_the_job_definitions(metrics: JobwatchMetrics) -> None:
    parsed = samples(text(metrics))
    assert series(parsed, "jobwatch_job_info") == [
        {"job": "crm", "kind": "command", "source": "hubspot", "schedule": "*/15 * * * *"},
        {"job": "playlist", "kind": "python", "source": "", "schedule": "every 30s"},
        {"job": "manual", "kind": "scrape", "source": "", "schedule": ""},
    ]
    assert all(v == 1 for (name, _), v in parsed.items() if name == "jobwatch_job_info")
    # Two 15-minute intervals and a minute of slack; an explicit stale_after wins;
    # a manual-only job has no bound, so no series.
    stale = "jobwatch_job_stale_after_seconds"
    assert value(parsed, stale, job="crm") == 2 * 900 + 60
    assert value(parsed, stale, job="playlist") == 7200
    assert value(parsed, stale, job="manual") is None
    upcoming = "jobwatch_job_next_run_timestamp_seconds"
    assert value(parsed, upcoming, job="crm") == NEXT_RUNS["crm"].timestamp()
    assert value(parsed, upcoming, job="manual") is None


def test_a_successful_run_sets_every_job_metric(metrics: JobwatchMetrics) -> None:
    finished = T0 + timedelta(minutes=5)
    play_run(
        metrics,
        1,
        "crm",
        "success",
        duration=42.5,
        finished_at=finished,
        records_processed=120,
        records_created=7,
        records_updated=100,
        records_failed=0,
    )
    parsed = samples(text(metrics))
    assert {s: value(parsed, RUNS, job="crm", status=s) for s in FINAL_STATUSES} == {
        "success": 1,
        "partial": 0,
        "failed": 0,
        "cancelled": 0,
        "timed_out": 0,
        "abandoned": 0,
    }
    assert {o: value(parsed, RECORDS, job="crm", outcome=o) for o in RECORD_OUTCOMES} == {
        "processed": 120,
        "created": 7,
        "updated": 100,
        "failed": 0,
    }
    assert value(parsed, BUCKET, job="crm", le="30.0") == 0
    assert value(parsed, BUCKET, job="crm", le="60.0") == 1
    assert value(parsed, BUCKET, job="crm", le="+Inf") == 1
    assert value(parsed, COUNT, job="crm") == 1
    assert value(parsed, SUM, job="crm") == 42.5
    assert value(parsed, LAST_RUN, job="crm") == finished.timestamp()
    assert value(parsed, LAST_SUCCESS, job="crm") == finished.timestamp()
    assert value(parsed, LAST_DURATION, job="crm") == 42.5
    assert value(parsed, IN_PROGRESS, job="crm") == 0
    assert value(parsed, QUEUED, job="crm") == 0
    # Nothing leaked to the other jobs.
    assert value(parsed, RUNS, job="playlist", status="success") == 0
    assert value(parsed, LAST_RUN, job="playlist") is None


def test_each_final_status_is_counted_under_its_own_label(metrics: JobwatchMetrics) -> None:
    for run_id, status in enumerate(FINAL_STATUSES, start=1):
        play_run(metrics, run_id, "playlist", status, finished_at=T0 + timedelta(minutes=run_id))
    parsed = samples(text(metrics))
    assert all(value(parsed, RUNS, job="playlist", status=s) == 1 for s in FINAL_STATUSES)
    assert value(parsed, COUNT, job="playlist") == len(FINAL_STATUSES)
    # Only the success counts as one, although later runs failed.
    assert value(parsed, LAST_SUCCESS, job="playlist") == (T0 + timedelta(minutes=1)).timestamp()
    assert value(parsed, LAST_RUN, job="playlist") == (T0 + timedelta(minutes=6)).timestamp()


def test_live_gauges_follow_status_transitions(metrics: JobwatchMetrics) -> None:
    def gauges() -> tuple[float | None, float | None]:
        parsed = samples(text(metrics))
        return value(parsed, QUEUED, job="crm"), value(parsed, IN_PROGRESS, job="crm")

    first, second = run_view(1, "crm", "queued"), run_view(2, "crm", "queued")
    metrics.handle(RunChanged(run=first, previous_status=None))
    metrics.handle(RunChanged(run=second, previous_status=None))
    assert gauges() == (2, 0)
    running = {**first, "status": "running", "started_at": T0.isoformat()}
    metrics.handle(RunChanged(run=running, previous_status="queued"))
    assert gauges() == (1, 1)
    # The second run is cancelled while still queued: straight to a final status.
    cancelled = {**second, "status": "cancelled", "finished_at": T0.isoformat()}
    metrics.handle(RunChanged(run=cancelled, previous_status="queued"))
    assert gauges() == (0, 1)
    done = {
        **running,
        "status": "success",
        "finished_at": (T0 + timedelta(seconds=3)).isoformat(),
        "duration_seconds": 3.0,
    }
    metrics.handle(RunChanged(run=done, previous_status="running"))
    assert gauges() == (0, 0)
    parsed = samples(text(metrics))
    assert value(parsed, RUNS, job="crm", status="cancelled") == 1
    # A run that never started has no duration and is not the job's "last run".
    assert value(parsed, COUNT, job="crm") == 1
    assert value(parsed, LAST_DURATION, job="crm") == 3.0


def test_an_external_run_reported_as_running_is_counted(metrics: JobwatchMetrics) -> None:
    running = run_view(5, "crm", "running", trigger="external", started_at=T0.isoformat())
    metrics.handle(RunChanged(run=running, previous_status=None))
    assert value(text(metrics), IN_PROGRESS, job="crm") == 1
    done = {**running, "status": "failed", "finished_at": T0.isoformat(), "duration_seconds": 0.0}
    metrics.handle(RunChanged(run=done, previous_status="running"))
    parsed = samples(text(metrics))
    assert value(parsed, IN_PROGRESS, job="crm") == 0
    assert value(parsed, RUNS, job="crm", status="failed") == 1


def test_a_dry_run_is_never_a_success(metrics: JobwatchMetrics) -> None:
    finished = T0 + timedelta(minutes=2)
    play_run(metrics, 1, "crm", "success", dry_run=True, finished_at=finished, records_processed=50)
    parsed = samples(text(metrics))
    assert value(parsed, RUNS, job="crm", status="success") == 0
    assert value(parsed, RECORDS, job="crm", outcome="processed") == 0
    assert value(parsed, LAST_SUCCESS, job="crm") is None
    # It did run, and for that long.
    assert value(parsed, LAST_RUN, job="crm") == finished.timestamp()
    assert value(parsed, COUNT, job="crm") == 1


def test_events_outside_the_config_and_enums_change_nothing(make_metrics: MakeMetrics) -> None:
    metrics = make_metrics()
    before = text(metrics)
    play_run(metrics, 1, "ghost", "success")
    metrics.handle(ScheduleMissed(job="ghost", scheduled_at=T0))
    metrics.handle(ActivityRecorded(entry={"type": "bogus", "status": "info"}))
    metrics.handle(ActivityRecorded(entry={"type": "job", "status": "fatal"}))
    metrics.handle(ActivityDropped(reason="cosmic_ray", count=3))
    weird = run_view(2, "crm", "exploded", finished_at=T0.isoformat())
    metrics.handle(RunChanged(run=weird, previous_status="running"))
    after = text(metrics)
    assert after == before
    assert job_labels(samples(after)) == {"crm", "playlist", "manual"}


def test_a_repeated_or_late_event_for_a_finished_run_changes_nothing(
    metrics: JobwatchMetrics,
) -> None:
    play_run(metrics, 1, "crm", "success", records_processed=10)
    before = text(metrics)
    finished = run_view(1, "crm", "success", started_at=T0.isoformat(), finished_at=T0.isoformat())
    finished.update(duration_seconds=30.0, records_processed=10)
    metrics.handle(RunChanged(run=finished, previous_status="success"))
    metrics.handle(RunChanged(run=finished, previous_status="running"))
    late = {**finished, "status": "running", "finished_at": None}
    metrics.handle(RunChanged(run=late, previous_status="running"))
    assert text(metrics) == before


def test_runs_finishing_out_of_order_keep_the_latest_as_last_run(
    metrics: JobwatchMetrics,
) -> None:
    later, earlier = T0 + timedelta(minutes=10), T0 + timedelta(minutes=5)
    play_run(metrics, 1, "crm", "failed", finished_at=later, duration=12.0)
    play_run(metrics, 2, "crm", "success", finished_at=earlier, duration=99.0)
    parsed = samples(text(metrics))
    assert value(parsed, LAST_RUN, job="crm") == later.timestamp()
    assert value(parsed, LAST_DURATION, job="crm") == 12.0
    assert value(parsed, LAST_SUCCESS, job="crm") == earlier.timestamp()


def test_scheduler_activity_and_retention_counters(metrics: JobwatchMetrics) -> None:
    metrics.handle(ScheduleMissed(job="crm", scheduled_at=T0))
    metrics.handle(ScheduleMissed(job="crm", scheduled_at=T0 + timedelta(minutes=15)))
    for status in ("info", "info", "error"):
        metrics.handle(ActivityRecorded(entry={"type": "job", "status": status}))
    metrics.handle(ActivityDropped(reason="queue_full"))
    metrics.handle(ActivityDropped(reason="write_error", count=500))
    metrics.handle(RetentionDeleted(count=1234))
    metrics.handle(RetentionDeleted(count=6))
    parsed = samples(text(metrics))
    assert value(parsed, "jobwatch_scheduler_missed_runs_total", job="crm") == 2
    assert value(parsed, "jobwatch_scheduler_missed_runs_total", job="playlist") == 0
    events = "jobwatch_activity_events_total"
    assert value(parsed, events, type="job", status="info") == 2
    assert value(parsed, events, type="job", status="error") == 1
    assert value(parsed, events, type="sync", status="info") == 0
    assert value(parsed, "jobwatch_activity_dropped_total", reason="queue_full") == 1
    assert value(parsed, "jobwatch_activity_dropped_total", reason="write_error") == 500
    assert value(parsed, "jobwatch_retention_deleted_total") == 1240


def test_callbacks_are_read_at_every_scrape(make_metrics: MakeMetrics) -> None:
    upcoming = {"crm": T0}
    size = [3]
    metrics = make_metrics(next_run=upcoming.get, queue_size=lambda: size[0])
    name = "jobwatch_job_next_run_timestamp_seconds"
    assert value(text(metrics), name, job="crm") == T0.timestamp()
    upcoming["crm"] = T0 + timedelta(minutes=15)
    upcoming["manual"] = T0 + timedelta(days=1)
    size[0] = 0
    parsed = samples(text(metrics))
    assert value(parsed, name, job="crm") == (T0 + timedelta(minutes=15)).timestamp()
    assert value(parsed, name, job="manual") == (T0 + timedelta(days=1)).timestamp()
    assert value(parsed, "jobwatch_activity_queue_size") == 0
    del upcoming["crm"]
    assert value(text(metrics), name, job="crm") is None


def test_set_jobs_keeps_kept_jobs_and_drops_removed_ones(metrics: JobwatchMetrics) -> None:
    play_run(metrics, 1, "crm", "success")
    play_run(metrics, 2, "playlist", "failed")
    text(metrics)  # fill the caches, so the test also covers their invalidation
    renamed = JobConfigBase(name="crm", kind="command", schedule="every 1h", source="salesforce")
    metrics.set_jobs([renamed, JobConfigBase(name="fresh", kind="python")])
    parsed = samples(text(metrics))
    assert job_labels(parsed) == {"crm", "fresh"}
    assert value(parsed, RUNS, job="crm", status="success") == 1
    assert value(parsed, RUNS, job="fresh", status="success") == 0
    assert series(parsed, "jobwatch_job_info")[0]["source"] == "salesforce"
    assert value(parsed, "jobwatch_job_stale_after_seconds", job="crm") == 2 * 3600 + 60
    play_run(metrics, 3, "playlist", "success")
    assert job_labels(samples(text(metrics))) == {"crm", "fresh"}


def test_concurrent_events_and_scrapes_lose_nothing(metrics: JobwatchMetrics) -> None:
    runs_per_thread, threads = 200, 4

    def publish(offset: int) -> None:
        for index in range(runs_per_thread):
            play_run(metrics, offset + index, "crm", "success", trace_id=TRACE_ID)

    workers = [
        threading.Thread(target=publish, args=(n * runs_per_thread,)) for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    while any(worker.is_alive() for worker in workers):
        samples(text(metrics))
    for worker in workers:
        worker.join()
    parsed = samples(text(metrics))
    assert value(parsed, RUNS, job="crm", status="success") == runs_per_thread * threads
    assert value(parsed, COUNT, job="crm") == runs_per_thread * threads
    assert value(parsed, IN_PROGRESS, job="crm") == 0
    assert value(parsed, QUEUED, job="crm") == 0
