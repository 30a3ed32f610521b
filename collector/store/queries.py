"""Filtered, cursor-paginated reads behind the API, the CLI and the exports."""

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from collector.store.models import ActivityLog, Run, TaskStatus


class BadCursor(ValueError):
    pass


def _encode(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


MAX_ID = 2**31 - 1


def _decode(cursor: str, size: int) -> list[str]:
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise BadCursor("cursor is not one this server returned") from None
    parts = text.split("|")
    if len(parts) != size:
        raise BadCursor("cursor is not one this server returned")
    return parts


def _cursor_id(raw: str) -> int:
    """A row id from a cursor: ASCII digits within the column's range."""
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise BadCursor("cursor is not one this server returned")
    return int(raw)


def _cursor_time(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadCursor("cursor is not one this server returned") from None
    if moment.tzinfo is None:
        raise BadCursor("cursor is not one this server returned")
    return moment


@dataclass(frozen=True)
class ActivityFilter:
    since: datetime | None = None
    until: datetime | None = None
    type: str | None = None
    status: str | None = None
    job: str | None = None
    text: str | None = None
    run_id: int | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        conditions = []
        if self.since is not None:
            conditions.append(ActivityLog.timestamp >= self.since)
        if self.until is not None:
            conditions.append(ActivityLog.timestamp < self.until)
        if self.type:
            conditions.append(ActivityLog.type == self.type)
        if self.status:
            conditions.append(ActivityLog.status == self.status)
        if self.job:
            conditions.append(ActivityLog.job == self.job)
        if self.run_id is not None:
            conditions.append(ActivityLog.run_id == self.run_id)
        if self.text:
            escaped = self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(ActivityLog.message.ilike(f"%{escaped}%", escape="\\"))
        return query.where(*conditions)


def activity_page(
    session: Session, where: ActivityFilter, *, limit: int, cursor: str | None = None
) -> tuple[list[ActivityLog], str | None]:
    """Newest first; the cursor is the (timestamp, id) of the last row returned."""
    query = where.apply(select(ActivityLog))
    if cursor:
        stamp, row_id = _decode(cursor, 2)
        at, last_id = _cursor_time(stamp), _cursor_id(row_id)
        query = query.where(
            or_(
                ActivityLog.timestamp < at,
                and_(ActivityLog.timestamp == at, ActivityLog.id < last_id),
            )
        )
    rows = list(
        session.scalars(
            query.order_by(ActivityLog.timestamp.desc(), ActivityLog.id.desc()).limit(limit + 1)
        )
    )
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, _encode(rows[-1].timestamp.isoformat(), str(rows[-1].id))


def activity_stream(
    session: Session, where: ActivityFilter, *, chunk: int = 1000
) -> Iterator[ActivityLog]:
    """Every matching entry, newest first, fetched a chunk at a time for exports."""
    cursor: str | None = None
    while True:
        rows, cursor = activity_page(session, where, limit=chunk, cursor=cursor)
        yield from rows
        if cursor is None:
            return


@dataclass(frozen=True)
class RunFilter:
    job: str | None = None
    status: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None


def runs_page(
    session: Session, where: RunFilter, *, limit: int, cursor: str | None = None
) -> tuple[list[Run], str | None]:
    """Newest first by id; the cursor is the id of the last row returned."""
    query = select(Run)
    if where.job:
        query = query.where(Run.job == where.job)
    if where.status:
        query = query.where(Run.status == where.status)
    if where.date_from is not None:
        query = query.where(Run.queued_at >= where.date_from)
    if where.date_to is not None:
        query = query.where(Run.queued_at < where.date_to)
    if cursor:
        (raw,) = _decode(cursor, 1)
        query = query.where(Run.id < _cursor_id(raw))
    rows = list(session.scalars(query.order_by(Run.id.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, _encode(str(rows[-1].id))


def last_scheduled_runs(session: Session) -> dict[str, datetime]:
    """When each job last ran on its schedule, to find what a downtime missed."""
    return dict(
        session.execute(
            select(Run.job, func.max(Run.queued_at))
            .where(Run.trigger == "schedule")
            .group_by(Run.job)
        ).all()
    )


def last_sign_of_life(session: Session) -> datetime | None:
    """The last moment a collector is known to have been running: its last activity
    entry or background task pass. Read at start-up before this process writes any."""
    moments = [
        session.scalar(select(func.max(ActivityLog.timestamp))),
        session.scalar(select(func.max(TaskStatus.last_run))),
    ]
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


@dataclass(frozen=True)
class JobSummary:
    last_run: Run | None
    last_success_at: datetime | None
    finished: int
    succeeded: int


def job_summaries(session: Session, jobs: list[str]) -> dict[str, JobSummary]:
    """Last run, last success and success ratio inputs of each job, in four queries."""
    last_ids = dict(
        session.execute(
            select(Run.job, func.max(Run.id)).where(Run.job.in_(jobs)).group_by(Run.job)
        ).all()
    )
    last_runs = {
        run.job: run for run in session.scalars(select(Run).where(Run.id.in_(last_ids.values())))
    }
    successes = dict(
        session.execute(
            select(Run.job, func.max(Run.finished_at))
            .where(Run.job.in_(jobs), Run.status == "success", Run.dry_run.is_(False))
            .group_by(Run.job)
        ).all()
    )
    finals = ("success", "partial", "failed", "timed_out", "abandoned")
    totals = {
        (job, status): count
        for job, status, count in session.execute(
            select(Run.job, Run.status, func.count())
            .where(Run.job.in_(jobs), Run.status.in_(finals), Run.dry_run.is_(False))
            .group_by(Run.job, Run.status)
        ).all()
    }
    return {
        job: JobSummary(
            last_run=last_runs.get(job),
            last_success_at=successes.get(job),
            finished=sum(count for (name, _), count in totals.items() if name == job),
            succeeded=totals.get((job, "success"), 0),
        )
        for job in jobs
    }
