"""``/runs``: history with filters, one run live, and cancelling."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from collector.api.deps import Actor, CollectorDep, as_utc
from collector.runs import RUN_STATUSES, UnknownRun, run_view
from collector.store.queries import BadCursor, RunFilter, runs_page

router = APIRouter(tags=["runs"])


@router.get("/runs")
def list_runs(
    collector: CollectorDep,
    job: Annotated[str | None, Query(max_length=64)] = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    if status_ is not None and status_ not in RUN_STATUSES:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {
                    "loc": ["query", "status"],
                    "msg": f"must be one of {', '.join(RUN_STATUSES)}",
                    "type": "value_error",
                }
            ],
        )
    where = RunFilter(job=job, status=status_, date_from=as_utc(date_from), date_to=as_utc(date_to))
    try:
        with collector.db.read() as session:
            rows, next_cursor = runs_page(session, where, limit=limit, cursor=cursor)
    except BadCursor as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}],
        ) from None
    items = [run_view(row, collector.executor.live(row.id)) for row in rows]
    return {"items": items, "next_cursor": next_cursor}


@router.get("/runs/{run_id}")
def get_run(run_id: int, collector: CollectorDep) -> dict[str, Any]:
    try:
        return collector.run(run_id)
    except UnknownRun:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown run {run_id}") from None


@router.post("/runs/{run_id}/cancel", status_code=status.HTTP_202_ACCEPTED)
def cancel_run(run_id: int, collector: CollectorDep, actor: Actor) -> dict[str, Any]:
    try:
        run = collector.run(run_id)
    except UnknownRun:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown run {run_id}") from None
    if run["status"] not in ("queued", "running"):
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"run {run_id} already ended {run['status']}"
        )
    return collector.cancel(run_id, user=actor)
