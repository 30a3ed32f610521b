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

from collector.activity import make_row
from collector.events import EventBus, ScheduleMissed
from collector.jobconfig import JobConfigBase
from collector.scheduling import MAX_REPORTED_MISSES, JobScheduler
from collector.service import Collector
from collector.store.models import ActivityLog
from tests.core.helpers import (
    missed_runs,
    scheduled_run,
    seed_tick_history,
    tick_settings,
)

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


def test_a_long_outage_reports_at_most_the_cap() -> None:
    """Hours of a per-second schedule would flood the bus; the report stops at the cap."""
    assert len(_misses("every 1s", NOW - timedelta(hours=2), None)) == MAX_REPORTED_MISSES


def test_a_sign_of_life_after_now_leaves_nothing_missed() -> None:
    assert _misses("every 1m", NOW - timedelta(minutes=30), NOW) == []


def test_skipped_fire_times_of_a_long_run_are_not_downtime_misses(tmp_path: Path) -> None:
    settings = tick_settings(tmp_path, "every 1m")
    started = datetime.now(UTC) - timedelta(minutes=10)
    skipped = make_row(
        "system",
        "Skipped the scheduled run of tick: run #1 is still going",
        status="warning",
        job="tick",
        timestamp=datetime.now(UTC) - timedelta(seconds=20),
    )
    seed_tick_history(settings, scheduled_run(started, status="running"), ActivityLog(**skipped))

    collector = Collector(settings)
    collector.start()
    try:
        collector.activity.flush()
        assert missed_runs(collector) == 0
    finally:
        collector.stop()
