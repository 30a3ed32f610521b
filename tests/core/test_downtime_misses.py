"""Schedules that fell while no collector ran are reported at the next start."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from collector.config import Settings
from collector.service import Collector
from collector.store import migrate
from collector.store.database import Database
from collector.store.models import ActivityLog, Run


def _settings(tmp_path: Path, schedule: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'jobwatch.db'}",
        misfire_grace_time=30,
        jobs=[{"name": "tick", "kind": "command", "command": ["true"], "schedule": schedule}],
    )


def _seed_last_scheduled_run(settings: Settings, at: datetime) -> None:
    database = Database(settings.database_url)
    migrate.upgrade(database)
    with database.write() as session:
        session.add(
            Run(
                job="tick",
                status="success",
                trigger="schedule",
                params={},
                queued_at=at,
                started_at=at,
                finished_at=at,
            )
        )
    database.dispose()


def _missed_counter(collector: Collector) -> float:
    assert collector.metrics is not None
    text = collector.metrics.render(openmetrics=False).decode()
    for family in text_string_to_metric_families(text):
        if family.name == "jobwatch_scheduler_missed_runs":
            return next(s.value for s in family.samples if s.labels == {"job": "tick"})
    raise AssertionError("jobwatch_scheduler_missed_runs_total is not exported")


def test_interval_runs_missed_during_downtime_are_counted_and_logged(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "every 1m")
    _seed_last_scheduled_run(settings, datetime.now(UTC) - timedelta(minutes=10))
    collector = Collector(settings)
    collector.start()
    try:
        collector.activity.flush()
        # Fire times at +1m … +9m are more than the 30s grace in the past; +10m is not.
        assert _missed_counter(collector) == 9
        with collector.db.read() as session:
            messages = session.scalars(
                select(ActivityLog.message).where(ActivityLog.job == "tick")
            ).all()
        assert [m for m in messages if m.startswith("Missed 9 scheduled run(s) of tick")]
    finally:
        collector.stop()


def test_a_recent_scheduled_run_reports_no_miss(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "*/5 * * * *")
    _seed_last_scheduled_run(settings, datetime.now(UTC) - timedelta(seconds=20))
    collector = Collector(settings)
    collector.start()
    try:
        assert _missed_counter(collector) == 0
    finally:
        collector.stop()
