"""The response shapes of ``/api/v1``, as published in ``/openapi.json``.

The handlers build plain dicts (``run_view``, ``entry_view``, ``job_view``…); these
models describe them field for field, so clients and response-conformance checks
learn what each route returns. FastAPI validates every response against its model;
a key a view returns that its model does not list still goes out (``extra="allow"``),
and ``tests/api/test_openapi.py``, which checks real responses against the published
schema with no unlisted field allowed, fails until the model lists it.

Times are ISO 8601 strings in UTC exactly as the views write them (``+00:00``), not
``datetime``: a model field of that type would re-serialize them (as ``Z``).
Enumerations are used only where the code closes the set before anything is
stored; what the database could hold from elsewhere (dashboard settings, task
statuses) is documented without being enforced, so a response never becomes a 500.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from collector.activity import ActivityStatus, ActivityType
from collector.jobconfig import Overlap
from collector.kinds import KINDS
from collector.params import ParamType
from collector.probes.warp import WarpState
from collector.runs import TRIGGERS, RunStatus

Timestamp = Annotated[
    str, Field(json_schema_extra={"format": "date-time"}, examples=["2024-05-01T12:00:00+00:00"])
]
"""An ISO 8601 UTC time as the API writes it."""

JobKind = Literal[tuple(KINDS)]  # type: ignore[valid-type]
RunTrigger = Literal[TRIGGERS]  # type: ignore[valid-type]
NEXT_CURSOR = (
    "Pass back unchanged as `cursor` for the next page; null on the last page. Cursors are opaque."
)


class ResponseModel(BaseModel):
    """A response shape that passes an unlisted key through rather than dropping it."""

    model_config = ConfigDict(extra="allow")


# --- errors ---------------------------------------------------------------------------


class Detail(BaseModel):
    """Every 4xx except 422: `{"detail": "what went wrong"}`."""

    detail: str = Field(description="What went wrong, for a person to read.")


class Problem(BaseModel):
    """One problem with the input, in FastAPI's validation-error shape."""

    loc: list[str | int] = Field(
        description="Where: `body`, `query` or `path`, then the field, e.g. "
        '`["body", "params", "batch_size"]`.'
    )
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="A machine-readable kind of problem, e.g. `value_error`.")
    input: Any = Field(default=None, description="What was sent there (FastAPI's own checks).")
    ctx: dict[str, Any] | None = Field(
        default=None, description='The constraint that failed, e.g. `{"ge": 1}`.'
    )


class ValidationDetail(BaseModel):
    """A 422: `{"detail": [{loc, msg, type}, …]}`, every problem at once."""

    detail: list[Problem]


ERROR_DESCRIPTIONS: dict[int, str] = {
    401: "Missing or wrong `Authorization: Bearer <JOBWATCH_API_TOKEN>` "
    "(only when a token is configured).",
    404: "No such job or run.",
    409: "The request is well formed but conflicts with the current state.",
    422: "The input is invalid; every problem is named at its `loc`.",
    503: "jobwatch is shutting down; try again once it is back.",
}


def error_responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the error codes a route documents.

    ``descriptions`` overrides the generic wording per code, keyed ``e404`` etc.
    """
    return {
        code: {
            "model": ValidationDetail if code == 422 else Detail,
            "description": descriptions.get(f"e{code}", ERROR_DESCRIPTIONS[code]),
        }
        for code in codes
    }


# --- activity -------------------------------------------------------------------------


class ActivityEntry(ResponseModel):
    """One entry of the activity log."""

    id: int
    timestamp: Timestamp = Field(description="When it happened (UTC).")
    type: ActivityType
    status: ActivityStatus
    message: str
    details: dict[str, Any] | None = Field(description="Structured context; any JSON object.")
    user: str | None = Field(description="Who acted (`api` for a token holder), if anyone.")
    job: str | None = Field(description="The configured job it concerns, if any.")
    run_id: int | None = Field(description="The run it concerns, if any.")


class ActivityPage(ResponseModel):
    """A page of the activity log, newest first."""

    items: list[ActivityEntry]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


# --- runs -----------------------------------------------------------------------------


class Run(ResponseModel):
    """A run of a job; live while it runs (counts, message, log tail, duration so far)."""

    id: int
    job: str = Field(description="The configured job name.")
    status: RunStatus = Field(
        description="`partial`: finished, some records failed; `abandoned`: the "
        "collector died while it ran (set at the next start-up)."
    )
    trigger: RunTrigger = Field(description="What started it.")
    params: dict[str, Any] = Field(description="The params it ran with; secrets redacted.")
    dry_run: bool
    queued_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_seconds: float | None = Field(
        description="Final duration once finished; so far while running; null before it starts."
    )
    records_processed: int
    records_created: int
    records_updated: int
    records_failed: int
    message: str | None = Field(description="The latest progress message.")
    error: str | None
    log_tail: str | None = Field(description="The last lines of its output.")
    result: dict[str, Any] | None = Field(description="What the job returned, if anything.")
    trace_id: str | None = Field(description="OpenTelemetry trace id of the run's span.")
    client_run_id: str | None = Field(
        description="The reporter's own id of an external run (repeating it is idempotent)."
    )
    user: str | None = Field(description="Who triggered it, if anyone.")


class RunPage(ResponseModel):
    """A page of run history, newest first."""

    items: list[Run]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


# --- jobs -----------------------------------------------------------------------------


class ParamSpecView(ResponseModel):
    """A param a trigger may pass. Fields without a value are left out, not null."""

    type: ParamType
    default: Any = None
    required: bool
    min: float | None = None
    max: float | None = None
    choices: list[str] | None = None
    flag: str | None = Field(default=None, description="How a command job receives it.")
    secret: bool = Field(description="Redacted in traces, logs and the API.")
    description: str | None = None


class Job(ResponseModel):
    """A configured job, with how it has been doing."""

    name: str
    kind: JobKind
    description: str | None
    source: str | None = Field(description="Free grouping label (CRM, site, feed).")
    schedule: str | None = Field(description="Cron or `every …`; null = manual only.")
    timeout_seconds: float | None
    stale_after_seconds: float | None = Field(
        description="No success for this long = stale: `stale_after`, else about two "
        "schedule intervals."
    )
    overlap: Overlap = Field(description="What a trigger does while a run is going.")
    params: dict[str, ParamSpecView] = Field(description="The params schema, by name.")
    last_run: Run | None
    last_status: RunStatus | None
    last_success_at: Timestamp | None
    next_run: Timestamp | None = Field(description="The next scheduled run, if scheduled.")
    success_ratio: float | None = Field(
        description="Share of finished runs that succeeded; null before any finished."
    )
    queued: int = Field(description="Runs waiting for a slot.")


class AlertsReceived(ResponseModel):
    received: int = Field(description="Alerts in the payload, each now an `alert` entry.")


# --- background tasks, dashboard config, probes --------------------------------------


class TaskState(ResponseModel):
    """A job or an internal task (retention cleanup, probes)."""

    task_name: str
    last_run: Timestamp | None
    next_run: Timestamp | None
    status: str = Field(
        description="A job's last run status, an internal task's `ok` or `error`; "
        "`never_run` for either before its first pass."
    )
    last_error: str | None
    last_result: dict[str, Any] | None = Field(
        description="A job's: its run id and record counts (and what it returned); "
        "an internal task's: what its last pass reported."
    )


class DashboardConfig(ResponseModel):
    """Persisted in the database; takes effect at once."""

    retention_days: int = Field(
        description="Days of activity kept before today (UTC), and the default `days` "
        "of `/activity/recent`; 0 = today only.",
        json_schema_extra={"minimum": 0, "maximum": 30},
    )
    auto_refresh_interval: int = Field(
        description="Seconds between refreshes, read by clients and dashboards.",
        json_schema_extra={"minimum": 10, "maximum": 600},
    )


class ActiveStreams(ResponseModel):
    count: int | None = Field(description="Null unless acexy answered (it alone counts).")
    source: Literal["acexy", "acestream", "unavailable"]
    checked_at: Timestamp | None = Field(description="The reading's time; null before the first.")


class WarpStatus(ResponseModel):
    status: WarpState
    last_connected: Timestamp | None = Field(
        description="When WARP was last seen connected, kept across restarts."
    )
    error: str | None
    details: dict[str, Any] = Field(description="What the probe read, and its `checked_at`.")
