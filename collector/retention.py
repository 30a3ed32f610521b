"""Retention of the activity log, in small batches so writers are never locked out long."""

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from collector.activity import log_activity
from collector.events import EventBus, RetentionDeleted, utcnow
from collector.store.database import Database
from collector.store.models import ActivityLog

BATCH_SIZE = 1000


def window_start(days: int, now: datetime | None = None) -> datetime:
    """Start of the kept window: today (UTC) and the ``days`` full days before it.

    The same bound serves ``?days=`` on the API, so what the dashboard shows and
    what the cleanup keeps never disagree.
    """
    now = now or utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=days)


def purge_activity(
    database: Database, days: int, *, now: datetime | None = None, batch_size: int = BATCH_SIZE
) -> int:
    """Delete entries older than the window; returns how many went."""
    cutoff = window_start(days, now)
    deleted = 0
    while True:
        with database.write() as session:
            ids = list(
                session.scalars(
                    select(ActivityLog.id).where(ActivityLog.timestamp < cutoff).limit(batch_size)
                )
            )
            if not ids:
                return deleted
            session.execute(delete(ActivityLog).where(ActivityLog.id.in_(ids)))
        deleted += len(ids)


class RetentionTask:
    """The scheduled cleanup; reads the current retention each pass so a PATCH applies at once."""

    def __init__(
        self, database: Database, bus: EventBus, retention_days: Callable[[], int]
    ) -> None:
        self._database = database
        self._bus = bus
        self._retention_days = retention_days

    def __call__(self) -> dict[str, int]:
        days = self._retention_days()
        deleted = purge_activity(self._database, days)
        if deleted:
            self._bus.publish(RetentionDeleted(count=deleted))
            log_activity(
                "task",
                f"Retention cleanup deleted {deleted} activity entries before "
                f"{window_start(days).date().isoformat()} ({days} day(s) kept)",
                details={"deleted": deleted, "retention_days": days},
            )
        return {"deleted": deleted, "retention_days": days}
