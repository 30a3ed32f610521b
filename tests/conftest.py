"""Fixtures shared by every test: databases on SQLite and PostgreSQL, collectors."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from collector.store import migrate
from collector.store.database import Database
from tests.support.binaries import stack_required
from tests.support.process import CollectorProcess

POSTGRES_ENV = "JOBWATCH_TEST_DATABASE_URL"


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        reason = f"{POSTGRES_ENV} is not set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/jobwatch_test)"
        if stack_required():
            pytest.fail(f"{reason}; JOBWATCH_REQUIRE_STACK=1 forbids skipping")
        pytest.skip(reason)
    return url


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Database]:
    database = Database(postgres_url())
    migrate.upgrade(database)
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A migrated database on each backend; every test's writes are rolled back."""
    if request.param == "sqlite":
        base = Database(f"sqlite:///{tmp_path_factory.mktemp('db') / 'jobwatch.db'}")
        migrate.upgrade(base)
        engine = base.engine
    else:
        base = request.getfixturevalue("postgres_database")
        engine = create_engine(base.url)
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield Database.on_connection(connection)
        finally:
            transaction.rollback()
    if request.param != "sqlite":
        engine.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A real SQLite file, migrated, for tests that need several threads or engines."""
    database = Database(f"sqlite:///{tmp_path / 'jobwatch.db'}")
    migrate.upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def collector_process(tmp_path: Path) -> Iterator[type[CollectorProcess]]:
    """Factory for real collector subprocesses; all are killed at teardown."""
    started: list[CollectorProcess] = []

    class Tracked(CollectorProcess):
        def __init__(self, config: dict, **kwargs: object) -> None:
            super().__init__(kwargs.pop("path", tmp_path), config, **kwargs)  # type: ignore[arg-type]
            started.append(self)

    yield Tracked
    for process in started:
        process.close()
