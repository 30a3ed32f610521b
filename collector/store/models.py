"""Tables. Change them only together with a new Alembic revision in ``collector/migrations``."""

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, Index, Integer, MetaData, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from collector.store.storable import StorableJSON, StorableText

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out for every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: StorableJSON(),
    }


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(StorableJSON, default=dict)
    dry_run: Mapped[bool] = mapped_column(default=False)
    queued_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_seconds: Mapped[float | None]
    records_processed: Mapped[int] = mapped_column(default=0)
    records_created: Mapped[int] = mapped_column(default=0)
    records_updated: Mapped[int] = mapped_column(default=0)
    records_failed: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(StorableText)
    error: Mapped[str | None] = mapped_column(StorableText)
    log_tail: Mapped[str | None] = mapped_column(StorableText)
    result: Mapped[dict[str, Any] | None] = mapped_column(StorableJSON)
    trace_id: Mapped[str | None] = mapped_column(String(32))
    client_run_id: Mapped[str | None] = mapped_column(String(128))
    user: Mapped[str | None] = mapped_column(String(128))
    pid: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_runs_job_queued_at", "job", "queued_at"),
        Index("ix_runs_status", "status"),
        Index("ix_runs_queued_at", "queued_at"),
        Index("ix_runs_job_status_finished_at", "job", "status", "finished_at"),
        Index("ix_runs_job_client_run_id", "job", "client_run_id", unique=True),
    )


class ActivityLog(Base):
    __tablename__ = "activity_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    timestamp: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(StorableText)
    details: Mapped[dict[str, Any] | None] = mapped_column(StorableJSON)
    user: Mapped[str | None] = mapped_column(String(128))
    job: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_activity_log_timestamp_id", "timestamp", "id"),
        Index("ix_activity_log_type_timestamp", "type", "timestamp"),
        Index("ix_activity_log_status_timestamp", "status", "timestamp"),
        Index("ix_activity_log_job_timestamp", "job", "timestamp"),
        Index("ix_activity_log_run_id", "run_id"),
    )


class TaskStatus(Base):
    """Last pass of each internal background task (retention, probes)."""

    __tablename__ = "task_status"

    task_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run: Mapped[datetime | None]
    next_run: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(StorableText)
    last_result: Mapped[dict[str, Any] | None] = mapped_column(StorableJSON)


class Setting(Base):
    """Runtime settings changed through the API (dashboard config), kept across restarts."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(StorableJSON)
    updated_at: Mapped[datetime]
