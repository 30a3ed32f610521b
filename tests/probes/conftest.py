"""Real things only: a migrated SQLite file, the activity writer, loopback services, scripts."""

from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from collector.activity import ActivityWriter, installed
from collector.events import EventBus
from collector.probes.manager import ProbeManager
from collector.probes.streams import StreamsConfig
from collector.probes.warp import WarpConfig
from collector.store.database import Database
from collector.store.migrate import upgrade
from collector.store.models import ActivityLog
from collector.tasks import BackgroundTasks
from tests.fakes.acestream import FakeAcexy, FakeEngine
from tests.fakes.trace import FakeTrace
from tests.fakes.warp_cli import FakeWarpCli


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path}/t.db")
    upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def activity(database: Database, bus: EventBus) -> Iterator[ActivityWriter]:
    writer = ActivityWriter(database, bus)
    writer.start()
    with installed(writer):
        yield writer
    writer.close()


@pytest.fixture
def entries(database: Database, activity: ActivityWriter) -> Callable[[], list[dict[str, Any]]]:
    """The activity entries written so far, oldest first."""

    def read() -> list[dict[str, Any]]:
        activity.flush()
        with database.read() as session:
            rows = session.scalars(select(ActivityLog).order_by(ActivityLog.id)).all()
        return [
            {"type": r.type, "status": r.status, "message": r.message, "details": r.details}
            for r in rows
        ]

    return read


@pytest.fixture
def scheduler() -> Iterator[BackgroundScheduler]:
    """Not started: tests that want the scheduler running call ``start()`` themselves."""
    sched = BackgroundScheduler(timezone=UTC)
    yield sched
    if sched.running:
        sched.shutdown(wait=True)


@pytest.fixture
def tasks(database: Database, bus: EventBus, scheduler: BackgroundScheduler) -> BackgroundTasks:
    return BackgroundTasks(database, bus, scheduler)


@pytest.fixture
def make_manager(
    database: Database, bus: EventBus, tasks: BackgroundTasks
) -> Callable[..., ProbeManager]:
    def make(streams: StreamsConfig | None = None, warp: WarpConfig | None = None) -> ProbeManager:
        return ProbeManager(
            {"streams": streams, "warp": warp}, database=database, bus=bus, tasks=tasks
        )

    return make


@pytest.fixture
def acexy() -> Iterator[FakeAcexy]:
    fake = FakeAcexy("up", streams=3)
    yield fake
    fake.close()


@pytest.fixture
def engine() -> Iterator[FakeEngine]:
    fake = FakeEngine("up")
    yield fake
    fake.close()


@pytest.fixture
def trace() -> Iterator[FakeTrace]:
    fake = FakeTrace("on")
    yield fake
    fake.close()


@pytest.fixture
def warp_cli(tmp_path: Path) -> FakeWarpCli:
    return FakeWarpCli(tmp_path / "warp")
