"""Schedules that fell while no collector ran are reported at the next start."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from collector.service import Collector
from collector.store.models import ActivityLog
from tests.core.helpers import missed_runs, scheduled_run, seed_tick_history, tick_settings


def test_interval_runs_missed_during_downtime_are_counted_and_logged(tmp_path: Path) -> None:
    settings = tick_settings(tmp_path, "every 1m")
    seed_tick_history(settings, scheduled_run(datetime.now(UTC) - timedelta(minutes=10)))
    collector = Collector(settings)
    collector.start()
    try:
        collector.activity.flush()
        # Fire times at +1m … +9m are more than the 30s grace in the past; +10m is not.
        assert missed_runs(collector) == 9
        with collector.db.read() as session:
            messages = session.scalars(
                select(ActivityLog.message).where(ActivityLog.job == "tick")
            ).all()
        assert [m for m in messages if m.startswith("Missed 9 scheduled run(s) of tick")]
    finally:
        collector.stop()


def test_a_recent_scheduled_run_reports_no_miss(tmp_path: Path) -> None:
    settings = tick_settings(tmp_path, "*/5 * * * *")
    seed_tick_history(settings, scheduled_run(datetime.now(UTC) - timedelta(seconds=20)))
    collector = Collector(settings)
    collector.start()
    try:
        assert missed_runs(collector) == 0
    finally:
        collector.stop()
