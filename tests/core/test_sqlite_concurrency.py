"""Concurrent SQLite writers wait for each other instead of failing "database is locked".

Each worker reads before it writes inside one transaction: with a deferred ``BEGIN``
that read-then-write upgrade fails at once under WAL whatever the busy timeout is,
which is the failure ``BEGIN IMMEDIATE`` on the write engine exists to prevent. One
worker also holds the write lock for a while, so the others really have to wait.
"""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from collector.activity import make_row
from collector.events import utcnow
from collector.store.database import Database
from collector.store.models import ActivityLog, Run

WORKERS = 8
ROUNDS = 25


def _worker(
    db: Database, worker: int, start: threading.Barrier, errors: list[BaseException]
) -> None:
    try:
        start.wait()
        for round_ in range(ROUNDS):
            with db.write() as session:
                # Read first, then write: the lock upgrade that a deferred BEGIN cannot do.
                seen = session.scalar(
                    select(func.count()).select_from(Run).where(Run.job == f"w{worker}")
                )
                assert seen == round_
                run = Run(
                    job=f"w{worker}",
                    status="running",
                    trigger="api",
                    params={"round": round_},
                    queued_at=utcnow(),
                    started_at=utcnow(),
                )
                session.add(run)
                session.flush()
                session.add(
                    ActivityLog(
                        **make_row(
                            "job", f"w{worker} round {round_}", job=f"w{worker}", run_id=run.id
                        )
                    )
                )
                session.execute(
                    update(Run)
                    .where(Run.id == run.id)
                    .values(status="success", records_processed=round_)
                )
            with db.read() as session:
                session.scalar(select(func.count()).select_from(ActivityLog))
    except BaseException as exc:  # any failure, reported by the test thread
        errors.append(exc)


def test_concurrent_writers_never_see_database_is_locked(sqlite_db: Database) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS + 1)
    threads = [
        threading.Thread(target=_worker, args=(sqlite_db, n, start, errors)) for n in range(WORKERS)
    ]
    for thread in threads:
        thread.start()
    with sqlite_db.write() as session:
        # Hold the write lock while every worker starts: they must queue behind it.
        session.add(ActivityLog(**make_row("system", "lock holder")))
        session.flush()
        start.wait()
        time.sleep(0.3)  # the point of this test: a writer that holds the lock a while
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0))
        assert not thread.is_alive(), "a writer hung"
    assert errors == [], errors[:3]

    with sqlite_db.read() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == WORKERS * ROUNDS
        assert (
            session.scalar(select(func.count()).where(Run.status == "success")) == WORKERS * ROUNDS
        )
        assert session.scalar(select(func.count()).select_from(ActivityLog)) == WORKERS * ROUNDS + 1
        newest = session.scalar(select(func.max(ActivityLog.timestamp)))
    assert newest is not None and utcnow() - newest < timedelta(minutes=1)


def test_a_deferred_transaction_would_fail_so_the_test_above_can(sqlite_db: Database) -> None:
    """Shows the failure mode exists on this SQLite: a read-then-write upgrade under contention.

    Uses the read engine (plain ``BEGIN``) on purpose; if this ever stops raising, the
    concurrency test above no longer proves anything about ``BEGIN IMMEDIATE``.
    """
    with sqlite_db.read_engine.connect() as reader:
        reader.exec_driver_sql("SELECT count(*) FROM runs").all()  # autobegin: plain BEGIN
        with sqlite_db.write() as session:
            session.add(ActivityLog(**make_row("system", "a write after the reader's snapshot")))
        with pytest.raises(OperationalError, match="database is locked"):
            reader.exec_driver_sql(
                "INSERT INTO settings (key, value, updated_at) VALUES ('k', '1', '2026-01-01')"
            )
        reader.rollback()
