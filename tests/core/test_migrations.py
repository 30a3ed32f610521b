"""The Alembic migrations build exactly the schema the models describe, on both backends.

Each backend starts from an empty database (a fresh SQLite file; a freshly created
PostgreSQL database), is upgraded to head, and Alembic's autogenerate comparison
must find nothing to change: a model edited without a migration fails here.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from collector.store import migrate
from collector.store.database import Database
from collector.store.models import Base
from tests.conftest import postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
        yield database
        database.dispose()
        return
    server = make_url(postgres_url())
    name = f"jobwatch_migrate_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    database = Database(server.set(database=name).render_as_string(hide_password=False))
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_upgrade_from_empty_matches_the_models(empty_database: Database) -> None:
    with empty_database.engine.connect() as connection:
        assert inspect(connection).get_table_names() == []
    migrate.upgrade(empty_database)

    head = ScriptDirectory.from_config(migrate.alembic_config(empty_database)).get_current_head()
    assert migrate.current_revision(empty_database) == head
    with empty_database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
        tables = set(inspect(connection).get_table_names())
    assert diff == []
    assert tables == set(Base.metadata.tables) | {"alembic_version"}

    migrate.upgrade(empty_database)  # a second upgrade (every start-up does one) is a no-op
    assert migrate.current_revision(empty_database) == head
