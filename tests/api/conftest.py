"""One real collector per database backend for the API input tests.

Each backend gets a database of its own (a fresh SQLite file; a freshly created
PostgreSQL database, dropped afterwards), because what a column refuses differs
between them: PostgreSQL refuses NUL in text and 32-bit overflow where SQLite
refuses 64-bit overflow. The tests share the collector, so each one only relies on
what it created itself (its own runs, counts taken before and after).
"""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from tests.conftest import postgres_url
from tests.support.process import REPO, CollectorProcess

TOKEN = "api-input-token"
CONFIG: dict[str, Any] = {
    "api_token": TOKEN,
    "jobs": [
        {
            "name": "echo",
            "kind": "command",
            "command": ["true"],
            "overlap": "allow",
            "params": {
                "name": {"type": "str", "flag": "--name"},
                "ratio": {"type": "float", "min": 0, "max": 1, "flag": "--ratio"},
                "scale": {"type": "float", "flag": "--scale"},
                "batch": {"type": "int", "flag": "--batch"},
            },
        },
        {
            "name": "counting",
            "kind": "python",
            "target": "tests.fixtures.core_jobs:counting",
            "overlap": "allow",
        },
        {
            "name": "ext",
            "kind": "external",
            "stale_after": "1h",
            "params": {"note": {"type": "str"}, "batch": {"type": "int"}},
        },
    ],
}


@pytest.fixture(
    scope="package",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def collector(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CollectorProcess]:
    path: Path = tmp_path_factory.mktemp(f"api-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite:///{path / 'jobwatch.db'}"
        drop = None
    else:
        server = make_url(postgres_url())
        name = f"jobwatch_api_{uuid.uuid4().hex[:12]}"
        admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        database_url = server.set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()

    process = CollectorProcess(
        path, {**CONFIG, "database_url": database_url}, env={"PYTHONPATH": str(REPO)}
    )
    try:
        yield process.start()
    finally:
        process.close()
        if drop is not None:
            drop()
