"""Report-in routes for external jobs: ``POST /runs``, ``…/{id}/progress``, ``…/{id}/finish``.

A job that is not ``external`` answers 409: the request is well formed, but the job's
runs are recorded by the collector itself, so a report would contradict them.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response, status
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from collector.api.deps import (
    MAX_DB_INT,
    Actor,
    CleanText,
    CollectorDep,
    RunId,
    StoredText,
    UtcDateTime,
    bad_params,
    check_params,
    clean_json,
)
from collector.api.schemas import Run, error_responses
from collector.counts import COUNT_NAMES
from collector.params import ParamsError
from collector.reporting import REPORTED_STATUSES, NotExternal
from collector.runs import RunFinished, UnknownRun
from collector.service import UnknownJob

router = APIRouter(tags=["external runs"])
Count = Annotated[StrictInt | None, Field(ge=0, le=MAX_DB_INT)]
ReportedStatus = Literal[REPORTED_STATUSES]  # type: ignore[valid-type]
NOT_EXTERNAL = "The job is not `external`: the collector records its runs itself."
ENDED = "The run has already ended, or it is not an external run."


class StartReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job: StoredText = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)
    client_run_id: StoredText | None = Field(default=None, min_length=1, max_length=128)
    started_at: UtcDateTime | None = None


class ProgressReport(BaseModel):
    """Cumulative totals, like the ``@jobwatch`` line protocol; omitted counts keep their value.

    Text that cannot be stored (NUL, lone surrogates) is replaced rather than refused,
    as oversized text is cut: a refused report would lose what the run did.
    """

    model_config = ConfigDict(extra="forbid")

    processed: Count = None
    created: Count = None
    updated: Count = None
    failed: Count = None
    message: CleanText | None = None

    def totals(self) -> dict[str, int]:
        return {name: value for name in COUNT_NAMES if (value := getattr(self, name)) is not None}


class FinishReport(ProgressReport):
    status: ReportedStatus
    error: CleanText | None = None
    log_tail: CleanText | None = None
    result: Annotated[dict[str, Any], AfterValidator(clean_json)] | None = None
    finished_at: UtcDateTime | None = None


def _caller_context(request: Request) -> Context:
    """The W3C trace context the reporter sent (``traceparent``), not our own request span."""
    return propagate.extract(dict(request.headers))


def _caller_trace_id(request: Request) -> str | None:
    span_context = trace.get_current_span(_caller_context(request)).get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else None


def _not_found(run_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown run {run_id}")


def _conflict(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=str(exc))


@router.post(
    "/runs",
    status_code=status.HTTP_201_CREATED,
    response_model=Run,
    responses={
        200: {"model": Run, "description": "The run this `client_run_id` already started."},
        **error_responses(401, 404, 409, 422, e404="No such job.", e409=NOT_EXTERNAL),
    },
)
def start_run(
    body: StartReport, request: Request, response: Response, collector: CollectorDep, _actor: Actor
) -> dict[str, Any]:
    """201 with the new run, or 200 with the run this ``client_run_id`` already started."""
    try:
        job = collector.job(body.job)
    except UnknownJob:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown job {body.job!r}") from None
    if not job.runs_here():  # else the 409 below says why it cannot report in
        check_params(job, body.params)
    try:
        run, created = collector.external.start(
            job,
            body.params,
            client_run_id=body.client_run_id,
            started_at=body.started_at,
            trace_id=_caller_trace_id(request),
        )
    except NotExternal as exc:
        raise _conflict(exc) from None
    except ParamsError as error:
        raise bad_params(error) from None
    if not created:
        response.status_code = status.HTTP_200_OK
    return run


@router.post(
    "/runs/{run_id}/progress",
    response_model=Run,
    responses=error_responses(401, 404, 409, 422, e404="No such run.", e409=ENDED),
)
def report_progress(
    run_id: RunId, body: ProgressReport, collector: CollectorDep, _actor: Actor
) -> dict[str, Any]:
    try:
        return collector.external.progress(run_id, body.totals(), body.message)
    except UnknownRun:
        raise _not_found(run_id) from None
    except (NotExternal, RunFinished) as exc:
        raise _conflict(exc) from None


@router.post(
    "/runs/{run_id}/finish",
    response_model=Run,
    responses=error_responses(401, 404, 409, 422, e404="No such run.", e409=ENDED),
)
def finish_run(
    run_id: RunId, body: FinishReport, request: Request, collector: CollectorDep, _actor: Actor
) -> dict[str, Any]:
    try:
        return collector.external.finish(
            run_id,
            body.status,
            totals=body.totals(),
            message=body.message,
            error=body.error,
            log_tail=body.log_tail,
            result=body.result,
            finished_at=body.finished_at,
            parent=_caller_context(request),
        )
    except UnknownRun:
        raise _not_found(run_id) from None
    except (NotExternal, RunFinished) as exc:
        raise _conflict(exc) from None
