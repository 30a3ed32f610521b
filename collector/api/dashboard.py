"""``/config/dashboard``: retention and refresh, changed at run time and kept in the DB."""

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from collector.activity import log_activity
from collector.api.deps import Actor, CollectorDep
from collector.api.schemas import DashboardConfig, error_responses
from collector.dashboard_settings import DashboardConfigPatch
from collector.service import RETENTION_TASK

router = APIRouter(tags=["config"])


class DashboardChange(BaseModel):
    """The body of a PATCH: whole numbers only (no ``true``, ``"7"`` or ``7.5``).

    A field that is omitted or null keeps its value.
    """

    model_config = ConfigDict(extra="forbid")

    retention_days: Annotated[StrictInt, Field(ge=0, le=30)] | None = None
    auto_refresh_interval: Annotated[StrictInt, Field(ge=10, le=600)] | None = None


@router.get("/config/dashboard", response_model=DashboardConfig)
def get_dashboard_config(collector: CollectorDep) -> dict[str, Any]:
    return collector.dashboard_config().model_dump()


@router.patch(
    "/config/dashboard", response_model=DashboardConfig, responses=error_responses(401, 422)
)
def patch_dashboard_config(
    change: DashboardChange, collector: CollectorDep, actor: Actor
) -> dict[str, Any]:
    assert collector.dashboard is not None
    before = collector.dashboard.get()
    after = collector.dashboard.patch(DashboardConfigPatch(**change.model_dump()))
    if after == before:  # nothing changed: no entry claiming it did, no cleanup pass
        return after.model_dump()
    log_activity(
        "user_action",
        f"Dashboard config changed: {before.model_dump()} -> {after.model_dump()}",
        user=actor,
        details={"before": before.model_dump(), "after": after.model_dump()},
    )
    if after.retention_days != before.retention_days:
        collector.scheduler.add_job(collector.tasks.run_once, args=[RETENTION_TASK])
    return after.model_dump()
