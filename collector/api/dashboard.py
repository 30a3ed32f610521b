"""``/config/dashboard``: retention and refresh, changed at run time and kept in the DB."""

from typing import Any

from fastapi import APIRouter

from collector.activity import log_activity
from collector.api.deps import Actor, CollectorDep
from collector.dashboard_settings import DashboardConfigPatch
from collector.service import RETENTION_TASK

router = APIRouter(tags=["config"])


@router.get("/config/dashboard")
def get_dashboard_config(collector: CollectorDep) -> dict[str, Any]:
    return collector.dashboard_config().model_dump()


@router.patch("/config/dashboard")
def patch_dashboard_config(
    change: DashboardConfigPatch, collector: CollectorDep, actor: Actor
) -> dict[str, Any]:
    assert collector.dashboard is not None
    before = collector.dashboard.get()
    after = collector.dashboard.patch(change)
    log_activity(
        "user_action",
        f"Dashboard config changed: {before.model_dump()} -> {after.model_dump()}",
        user=actor,
        details={"before": before.model_dump(), "after": after.model_dump()},
    )
    if after.retention_days != before.retention_days:
        collector.scheduler.add_job(collector.tasks.run_once, args=[RETENTION_TASK])
    return after.model_dump()
