"""``/background-tasks/status``: every job and every internal task, in one list."""

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from collector.api.deps import CollectorDep
from collector.api.schemas import TaskState
from collector.store.models import TaskStatus
from collector.store.queries import job_summaries

router = APIRouter(tags=["tasks"])


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@router.get("/background-tasks/status", response_model=list[TaskState])
def background_tasks(collector: CollectorDep) -> list[dict[str, Any]]:
    names = [job.name for job in collector.settings.jobs]
    with collector.db.read() as session:
        summaries = job_summaries(session, names)
        recorded = {row.task_name: row for row in session.scalars(select(TaskStatus))}
    items: list[dict[str, Any]] = []
    for name in names:
        last = summaries[name].last_run
        items.append(
            {
                "task_name": name,
                "last_run": _iso(last.started_at or last.queued_at) if last else None,
                "next_run": _iso(collector.scheduler_next_run(name)),
                "status": last.status if last else "never_run",
                "last_error": last.error if last else None,
                "last_result": (
                    {
                        "run_id": last.id,
                        "records_processed": last.records_processed,
                        "records_created": last.records_created,
                        "records_updated": last.records_updated,
                        "records_failed": last.records_failed,
                        **(last.result or {}),
                    }
                    if last
                    else None
                ),
            }
        )
    for name in collector.tasks.names():
        row = recorded.get(name)
        items.append(
            {
                "task_name": name,
                "last_run": _iso(row.last_run) if row else None,
                "next_run": _iso(collector.tasks.next_run(name)),
                "status": row.status if row else "never_run",
                "last_error": row.last_error if row else None,
                "last_result": row.last_result if row else None,
            }
        )
    return items
