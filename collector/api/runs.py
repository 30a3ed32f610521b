"""``/runs``: history with filters, one run live, and cancelling."""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from collector.api.deps import (
    Actor,
    CollectorDep,
    Cursor,
    RunId,
    StoredText,
    UtcDateTime,
    cursor_errors,
)
from collector.api.schemas import Run, RunPage, error_responses
from collector.runs import RunStatus, UnknownRun, run_view
from collector.store.queries import RunFilter, runs_page

router = APIRouter(tags=["runs"])


@router.get("/runs", response_model=RunPage, responses=error_responses(422))
def list_runs(
    collector: CollectorDep,
    job: Annotated[StoredText | None, Query(max_length=64)] = None,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    date_from: Annotated[UtcDateTime | None, Query(description="ISO 8601; no zone = UTC")] = None,
    date_to: Annotated[UtcDateTime | None, Query(description="ISO 8601; no zone = UTC")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[Cursor | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    where = RunFilter(job=job, status=status_, date_from=date_from, date_to=date_to)
    with cursor_errors(cursor), collector.db.read() as session:
        rows, next_cursor = runs_page(session, where, limit=limit, cursor=cursor)
    items = [run_view(row, collector.executor.live(row.id)) for row in rows]
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/runs/{run_id}",
    response_model=Run,
    responses=error_responses(404, 422, e404="No such run."),
)
def get_run(run_id: RunId, collector: CollectorDep) -> dict[str, Any]:
    try:
        return collector.run(run_id)
    except UnknownRun:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown run {run_id}") from None


@router.post(
    "/runs/{run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Run,
    responses=error_responses(
        401, 404, 409, 422, e404="No such run.", e409="The run has already ended."
    ),
)
def cancel_run(run_id: RunId, collector: CollectorDep, actor: Actor) -> dict[str, Any]:
    try:
        run = collector.run(run_id)
    except UnknownRun:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown run {run_id}") from None
    if run["status"] not in ("queued", "running"):
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"run {run_id} already ended {run['status']}"
        )
    return collector.cancel(run_id, user=actor)
