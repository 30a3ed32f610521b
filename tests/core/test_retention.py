"""Retention deletes exactly the entries before the window, on SQLite and PostgreSQL.

The window starts at midnight UTC ``days`` days before today, so ``0`` keeps only
today. Rows one microsecond either side of that instant tell "exactly" from "about".
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from collector.activity import make_row
from collector.retention import purge_activity, window_start
from collector.store.database import Database
from collector.store.models import ActivityLog

NOW = datetime(2026, 3, 10, 15, 30, 45, 123456, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def _insert(db: Database, stamps: dict[str, datetime]) -> dict[int, str]:
    """One entry per label; returns id -> label."""
    ids: dict[int, str] = {}
    with db.write() as session:
        session.execute(delete(ActivityLog))  # rolled back with the test
        for label, stamp in stamps.items():
            row = ActivityLog(**make_row("system", label, timestamp=stamp))
            session.add(row)
            session.flush()
            ids[row.id] = label
    return ids


def _left(db: Database) -> set[str]:
    with db.read() as session:
        return set(session.scalars(select(ActivityLog.message)))


@pytest.mark.parametrize("days", [0, 7, 30])
def test_purge_deletes_exactly_the_rows_before_the_window(db: Database, days: int) -> None:
    start = datetime(2026, 3, 10, tzinfo=UTC) - timedelta(days=days)
    assert window_start(days, NOW) == start
    stamps = {
        "long ago": start - timedelta(days=400),
        "the day before": start - timedelta(hours=12),
        "a microsecond too old": start - TICK,
        "at the window start": start,
        "a microsecond inside": start + TICK,
        "earlier today": NOW - timedelta(hours=1),
        "now": NOW,
        "in the future (clock skew)": NOW + timedelta(days=1),
    }
    expired = {"long ago", "the day before", "a microsecond too old"}
    _insert(db, stamps)

    deleted = purge_activity(db, days, now=NOW, batch_size=2)

    assert deleted == len(expired)
    assert _left(db) == set(stamps) - expired
    assert purge_activity(db, days, now=NOW) == 0, "a second pass must find nothing"


def test_retention_windows_nest(db: Database) -> None:
    """A week-old entry survives 30 and 7 days but not 0; an hour-old one survives all."""
    _insert(
        db,
        {
            "five weeks": NOW - timedelta(days=35),
            "one week": NOW - timedelta(days=7),
            "yesterday": NOW - timedelta(days=1),
            "an hour": NOW - timedelta(hours=1),
        },
    )
    assert purge_activity(db, 30, now=NOW) == 1
    assert _left(db) == {"one week", "yesterday", "an hour"}
    assert purge_activity(db, 7, now=NOW) == 0
    assert purge_activity(db, 0, now=NOW) == 2
    assert _left(db) == {"an hour"}


def test_purge_handles_more_rows_than_one_batch(db: Database) -> None:
    old = window_start(7, NOW) - timedelta(days=1)
    _insert(db, {f"old {i}": old - timedelta(seconds=i) for i in range(25)} | {"kept": NOW})
    assert purge_activity(db, 7, now=NOW, batch_size=4) == 25
    assert _left(db) == {"kept"}
