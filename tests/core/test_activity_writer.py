"""The activity writer when something goes wrong: a bad entry, a dead thread, a late entry.

A loss must never be silent and never larger than it has to be: one entry the
database refuses costs that entry only, and ``flush()`` returns whatever became of
the writer thread.
"""

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from collector.activity import ActivityWriter, make_row
from collector.events import ActivityDropped, ActivityRecorded, Event, EventBus
from collector.store.database import Database
from collector.store.models import ActivityLog


class Recorder:
    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        bus.subscribe(self.events.append)

    def dropped(self) -> list[tuple[str, int]]:
        return [(e.reason, e.count) for e in self.events if isinstance(e, ActivityDropped)]

    def recorded(self) -> list[str]:
        return [e.entry["message"] for e in self.events if isinstance(e, ActivityRecorded)]


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def writer(sqlite_db: Database, bus: EventBus) -> Iterator[ActivityWriter]:
    writer = ActivityWriter(sqlite_db, bus)
    yield writer
    writer.close()


def _messages(database: Database) -> list[str]:
    with database.read() as session:
        return list(session.scalars(select(ActivityLog.message).order_by(ActivityLog.id)))


def _returns(call: Callable[[], None], timeout: float = 10.0) -> bool:
    """Whether ``call()`` returned within ``timeout`` (it runs on a daemon thread)."""
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive()


def test_one_entry_the_database_refuses_costs_only_that_entry(
    writer: ActivityWriter, sqlite_db: Database, bus: EventBus
) -> None:
    seen = Recorder(bus)
    poisoned = {**make_row("job", "bad"), "details": {"handle": object()}}  # not JSON
    rows = [make_row("job", "first"), poisoned, make_row("job", "last")]
    for row in rows:  # queued before the thread starts, so they form one batch
        assert writer.submit(row)
    writer.start()
    writer.flush()

    assert _messages(sqlite_db) == ["first", "last"]
    assert seen.dropped() == [("write_error", 1)]
    assert seen.recorded() == ["first", "last"]


def test_details_that_are_not_json_are_kept_as_text(db: Database) -> None:
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    row = make_row("job", "nul \x00 inside", details={"when": when, "ids": {7}})
    with db.write() as session:
        session.execute(insert(ActivityLog), [row])
    with db.read() as session:
        stored = session.scalars(select(ActivityLog).where(ActivityLog.message.like("nul %"))).one()
    assert stored.message == "nul \ufffd inside"
    assert stored.details == {"when": str(when), "ids": "{7}"}


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_flush_returns_when_the_writer_thread_has_died(
    writer: ActivityWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def die(batch: list[dict[str, object]]) -> None:
        raise SystemExit  # ends the thread like any BaseException would

    monkeypatch.setattr(writer, "_write", die)
    writer.start()
    writer.submit(make_row("job", "lost"))

    assert _returns(writer.flush), "flush() waits forever for a dead writer"


def test_a_failing_batch_does_not_end_the_writer(
    writer: ActivityWriter, sqlite_db: Database, bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = Recorder(bus)
    real_write = writer._write
    failures = [RuntimeError("a bug in the writer")]

    def write_once_broken(batch: list[dict[str, object]]) -> None:
        if failures:
            raise failures.pop()
        real_write(batch)

    monkeypatch.setattr(writer, "_write", write_once_broken)
    writer.start()
    writer.submit(make_row("job", "lost"))
    assert _returns(writer.flush)
    writer.submit(make_row("job", "kept"))
    assert _returns(writer.flush)

    assert _messages(sqlite_db) == ["kept"]
    assert seen.dropped() == [("write_error", 1)]


def test_an_entry_after_close_is_dropped_out_loud_and_flush_still_returns(
    writer: ActivityWriter, sqlite_db: Database, bus: EventBus
) -> None:
    seen = Recorder(bus)
    writer.start()
    writer.submit(make_row("job", "before"))
    writer.close()

    assert writer.submit(make_row("job", "after")) is False
    assert _returns(writer.flush), "flush() waits forever for a closed writer"
    assert _messages(sqlite_db) == ["before"]
    assert seen.dropped() == [("closed", 1)]
