"""``/activity``: the log, filtered and paginated, and streamed out as CSV or NDJSON."""

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from collector.activity import ActivityStatus, ActivityType, entry_view
from collector.api.deps import CollectorDep, as_utc, unprocessable
from collector.retention import window_start
from collector.store.queries import ActivityFilter, BadCursor, activity_page, activity_stream

router = APIRouter(tags=["activity"])
EXPORT_COLUMNS = (
    "id",
    "timestamp",
    "type",
    "status",
    "message",
    "details",
    "user",
    "job",
    "run_id",
)


def activity_filter(
    collector: CollectorDep,
    days: Annotated[int | None, Query(ge=0, le=30, description="0 = today (UTC)")] = None,
    type: ActivityType | None = None,
    status: ActivityStatus | None = None,
    job: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200, description="text in the message")] = None,
    run_id: int | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> ActivityFilter:
    if days is None:
        days = collector.dashboard_config().retention_days
    since = window_start(days)
    start = as_utc(date_from)
    if start is not None and start > since:
        since = start
    return ActivityFilter(
        since=since, until=as_utc(date_to), type=type, status=status, job=job, text=q, run_id=run_id
    )


Filter = Annotated[ActivityFilter, Depends(activity_filter)]


@router.get("/activity/recent")
def recent(
    collector: CollectorDep,
    where: Filter,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> dict:
    try:
        with collector.db.read() as session:
            rows, next_cursor = activity_page(session, where, limit=limit, cursor=cursor)
    except BadCursor as exc:
        raise unprocessable((["query", "cursor"], str(exc))) from None
    return {"items": [entry_view(row) for row in rows], "next_cursor": next_cursor}


def _csv_lines(entries: Iterator[dict]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for entry in entries:
        writer.writerow(
            [
                json.dumps(entry[c]) if c == "details" and entry[c] is not None else entry[c]
                for c in EXPORT_COLUMNS
            ]
        )
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _ndjson_lines(entries: Iterator[dict]) -> Iterator[str]:
    for entry in entries:
        yield json.dumps(entry) + "\n"


@router.get("/activity/export")
def export(
    collector: CollectorDep,
    where: Filter,
    format: Literal["csv", "ndjson"] = "csv",
) -> StreamingResponse:
    """Streams every matching entry, newest first, without loading them all at once."""

    def entries() -> Iterator[dict]:
        with collector.db.read() as session:
            for row in activity_stream(session, where):
                yield entry_view(row)

    lines = _csv_lines(entries()) if format == "csv" else _ndjson_lines(entries())
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(
        lines,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="jobwatch-activity.{format}"'},
    )
