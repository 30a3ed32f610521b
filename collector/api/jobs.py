"""``/jobs``: what is configured, how it has been doing, and triggering a run."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from collector.api.deps import Actor, CollectorDep, bad_params, check_params
from collector.api.schemas import Job, Run, error_responses
from collector.jobconfig import JobConfigBase
from collector.params import ParamsError
from collector.runs import run_view
from collector.service import Collector, JobBusy, NotRunnable, ShuttingDown, UnknownJob
from collector.store.queries import JobSummary, job_summaries

router = APIRouter(tags=["jobs"])


class TriggerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(default_factory=dict)
    dry_run: StrictBool = False


def job_view(collector: Collector, job: JobConfigBase, summary: JobSummary) -> dict[str, Any]:
    last = summary.last_run
    next_run = collector.scheduler_next_run(job.name)
    return {
        "name": job.name,
        "kind": job.kind,
        "description": job.description,
        "source": job.source,
        "schedule": str(job.schedule) if job.schedule else None,
        "timeout_seconds": job.timeout,
        "stale_after_seconds": job.effective_stale_after(),
        "overlap": job.overlap,
        "params": {name: spec.model_dump(exclude_none=True) for name, spec in job.params.items()},
        "last_run": run_view(last) if last is not None else None,
        "last_status": last.status if last is not None else None,
        "last_success_at": summary.last_success_at.isoformat() if summary.last_success_at else None,
        "next_run": next_run.isoformat() if next_run else None,
        "success_ratio": summary.succeeded / summary.finished if summary.finished else None,
        "queued": collector.executor.queued_count(job.name),
    }


def _summaries(collector: Collector, names: list[str]) -> dict[str, JobSummary]:
    with collector.db.read() as session:
        return job_summaries(session, names)


# ``exclude_unset``: a param spec leaves out what it has no value for rather than
# sending null, as ``job_view`` builds it; every other field is always set.
@router.get("/jobs", response_model=list[Job], response_model_exclude_unset=True)
def list_jobs(collector: CollectorDep) -> list[dict[str, Any]]:
    jobs = collector.settings.jobs
    summaries = _summaries(collector, [job.name for job in jobs])
    return [job_view(collector, job, summaries[job.name]) for job in jobs]


def _job(collector: Collector, name: str) -> JobConfigBase:
    try:
        return collector.job(name)
    except UnknownJob:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown job {name!r}") from None


@router.get(
    "/jobs/{name}",
    response_model=Job,
    response_model_exclude_unset=True,
    responses=error_responses(404, 422, e404="No such job."),
)
def get_job(name: str, collector: CollectorDep) -> dict[str, Any]:
    job = _job(collector, name)
    return job_view(collector, job, _summaries(collector, [name])[name])


@router.post(
    "/jobs/{name}/runs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Run,
    responses=error_responses(
        401,
        404,
        409,
        422,
        503,
        e404="No such job.",
        e409="The job forbids overlap and is running, or it runs elsewhere (external).",
        e422="Bad params (each at `body.params.<name>`) or a malformed body.",
    ),
)
def trigger(
    name: str,
    collector: CollectorDep,
    actor: Actor,
    body: Annotated[TriggerRequest, Body()] = TriggerRequest(),
) -> dict[str, Any]:
    job = _job(collector, name)
    if job.runs_here():  # else the 409 below says why it cannot be triggered at all
        check_params(job, body.params)
    try:
        return collector.trigger(name, body.params, trigger="api", dry_run=body.dry_run, user=actor)
    except ParamsError as error:
        raise bad_params(error) from None
    except JobBusy as busy:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(busy)) from None
    except NotRunnable as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except ShuttingDown as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from None
