"""Settings changed at run time through ``/config/dashboard``, stored in the database."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from collector.events import utcnow
from collector.store.database import Database
from collector.store.models import Setting

KEY = "dashboard"


class DashboardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_days: int = Field(ge=0, le=30)
    auto_refresh_interval: int = Field(ge=10, le=600)


class DashboardConfigPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_days: int | None = Field(default=None, ge=0, le=30)
    auto_refresh_interval: int | None = Field(default=None, ge=10, le=600)


class DashboardSettings:
    """The config file gives the initial values; a stored PATCH wins from then on."""

    def __init__(self, database: Database, defaults: DashboardConfig) -> None:
        self._database = database
        self._defaults = defaults
        self._current = self._load()

    def _load(self) -> DashboardConfig:
        with self._database.read() as session:
            row = session.get(Setting, KEY)
        stored: dict[str, Any] = (
            row.value if row is not None and isinstance(row.value, dict) else {}
        )
        return self._defaults.model_copy(
            update={k: v for k, v in stored.items() if k in DashboardConfig.model_fields}
        )

    def get(self) -> DashboardConfig:
        return self._current

    def patch(self, change: DashboardConfigPatch) -> DashboardConfig:
        updated = self._current.model_copy(update=change.model_dump(exclude_none=True))
        with self._database.write() as session:
            row = session.get(Setting, KEY) or Setting(key=KEY)
            row.value = updated.model_dump()
            row.updated_at = utcnow()
            session.add(row)
        self._current = updated
        return updated
