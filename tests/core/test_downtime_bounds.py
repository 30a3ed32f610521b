"""Downtime misses start where the previous collector stopped, not at its last scheduled run.

A ``skip`` job that ran long was skipped on schedule while the old process lived;
those fire times are in its activity log already and were never missed "while
jobwatch was not running". Counting them again at a restart raises a false
missed-schedules alert. Only the fire times after the old process's last sign of
life (its last activity entry or task pass) are downtime.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client.parser import text_string_to_metric_families

from collector.activity import make_row
from collector.config import Settings
from collector.events import EventBus, ScheduleMissed
from collector.jobconfig import JobConfigBase
from collector.scheduling import JobScheduler
from collector.service import Collector
from collector.store import migrate
from collector.store.database import Database
from collector.store.models import ActivityLog, Run

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _misses(schedule: str, last_fired: datetime, since: datetime | None) -> list[datetime]:
    bus = EventBus()
    missed: list[datetime] = []
    bus.subscribe(lambda e: missed.append(e.scheduled_at) if isinstance(e, ScheduleMissed) else 0)
    jobs = JobScheduler(
        BackgroundScheduler(timezone=UTC), bus, fire=lambda _name: None, misfire_grace_time=30
    )
    job = JobConfigBase(name="tick", kind="command", schedule=schedule)
    count = jobs.report_downtime(job, last_fired, NOW, since=since)
    assert count == len(missed)
    return missed


def test_interval_misses_count_only_after_the_last_sign_of_life() -> None:
    last_fired = NOW - timedelta(minutes=30)
    assert len(_misses("every 1m", last_fired, None)) == 29
    missed = _misses("every 1m", last_fired, NOW - timedelta(minutes=10, seconds=30))
    assert missed == [NOW - timedelta(minutes=m) for m in range(10, 0, -1)]


def test_cron_misses_count_only_after_the_last_sign_of_life() -> None:
    last_fired = NOW - timedelta(hours=2)
    assert len(_misses("*/15 * * * *", last_fired, None)) == 7
    missed = _misses("*/15 * * * *", last_fired, NOW - timedelta(minutes=40))
    assert missed == [NOW - timedelta(minutes=30), NOW - timedelta(minutes=15)]


def test_a_sign_of_life_after_now_leaves_nothing_missed() -> None:
    assert _misses("every 1m", NOW - timedelta(minutes=30), NOW) == []


def test_skipped_fire_times_of_a_long_run_are_not_downtime_misses(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'jobwatch.db'}",
        misfire_grace_time=30,
        jobs=[{"name": "tick", "kind": "command", "command": ["true"], "schedule": "every 1m"}],
    )
    started = datetime.now(UTC) - timedelta(minutes=10)
    database = Database(settings.database_url)
    migrate.upgrade(database)
    with database.write() as session:
        session.add(
            Run(
                job="tick",
                status="running",
                trigger="schedule",
                params={},
                queued_at=started,
                started_at=started,
            )
        )
        session.add(
            ActivityLog(
                **make_row(
                    "system",
                    "Skipped the scheduled run of tick: run #1 is still going",
                    status="warning",
                    job="tick",
                    timestamp=datetime.now(UTC) - timedelta(seconds=20),
                )
            )
        )
    database.dispose()

    collector = Collector(settings)
    collector.start()
    try:
        collector.activity.flush()
        assert collector.metrics is not None
        text = collector.metrics.render(openmetrics=False).decode()
        (missed,) = (
            sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "jobwatch_scheduler_missed_runs"
            for sample in family.samples
            if sample.labels == {"job": "tick"}
        )
        assert missed == 0
    finally:
        collector.stop()
