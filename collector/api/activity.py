"""``/activity``: the log, filtered and paginated, and streamed out as CSV or NDJSON."""

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from collector.activity import ActivityStatus, ActivityType, entry_view
from collector.api.deps import (
    MAX_DB_INT,
    CollectorDep,
    Cursor,
    StoredText,
    UtcDateTime,
    cursor_errors,
)
from collector.api.schemas import ActivityPage, error_responses
from collector.retention import window_start
from collector.store.queries import ActivityFilter, activity_page, activity_stream

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
    job: Annotated[StoredText | None, Query(max_length=64)] = None,
    q: Annotated[
        StoredText | None, Query(max_length=200, description="text in the message")
    ] = None,
    run_id: Annotated[int | None, Query(ge=1, le=MAX_DB_INT)] = None,
    date_from: Annotated[UtcDateTime | None, Query(description="ISO 8601; no zone = UTC")] = None,
    date_to: Annotated[UtcDateTime | None, Query(description="ISO 8601; no zone = UTC")] = None,
) -> ActivityFilter:
    if days is None:
        days = collector.dashboard_config().retention_days
    since = window_start(days)
    if date_from is not None and date_from > since:
        since = date_from
    return ActivityFilter(
        since=since, until=date_to, type=type, status=status, job=job, text=q, run_id=run_id
    )


Filter = Annotated[ActivityFilter, Depends(activity_filter)]


@router.get("/activity/recent", response_model=ActivityPage, responses=error_responses(422))
def recent(
    collector: CollectorDep,
    where: Filter,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[Cursor | None, Query(max_length=512)] = None,
) -> dict:
    with cursor_errors(cursor), collector.db.read() as session:
        rows, next_cursor = activity_page(session, where, limit=limit, cursor=cursor)
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


@router.get(
    "/activity/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Every matching entry, newest first, as a file",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
        **error_responses(422),
    },
)
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
