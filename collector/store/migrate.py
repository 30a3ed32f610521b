"""Schema changes go through Alembic only; ``jobwatch run`` and ``db upgrade`` call this."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from collector.store.database import Database

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    config = alembic_config(database)
    with database.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.read_engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
