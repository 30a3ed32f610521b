"""What the run history says the gauges were before this process started.

Gauges that describe the past must survive a restart, or every deploy would fire
(or clear) the staleness alert by itself. Counters are not restored: Prometheus
expects them to start at 0 and handles the reset.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, false, func, select
from sqlalchemy.orm import Session

from collector.store.models import Run
from exporters.labels import FINAL_STATUSES, LIVE_STATUSES


@dataclass
class History:
    """Per job: the last finished run that started, the last real success, the live runs."""

    last_run: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    last_success: dict[str, float] = field(default_factory=dict)
    live: dict[int, tuple[str, str]] = field(default_factory=dict)


def load_history(session: Session, jobs: Iterable[str]) -> History:
    """Three indexed queries, whatever the number of jobs and runs."""
    wanted = set(jobs)
    history = History()
    finished = and_(
        Run.status.in_(FINAL_STATUSES),
        Run.started_at.is_not(None),
        Run.finished_at.is_not(None),
    )
    latest = (
        select(Run.job, func.max(Run.finished_at).label("finished_at"))
        .where(finished)
        .group_by(Run.job)
        .subquery()
    )
    last_runs = select(Run.job, Run.finished_at, Run.duration_seconds).join(
        latest, and_(Run.job == latest.c.job, Run.finished_at == latest.c.finished_at)
    )
    for job, finished_at, duration in session.execute(last_runs.where(finished).order_by(Run.id)):
        if job in wanted:
            history.last_run[job] = (finished_at.timestamp(), duration)
    successes = (
        select(Run.job, func.max(Run.finished_at))
        .where(Run.status == "success", Run.dry_run == false(), Run.finished_at.is_not(None))
        .group_by(Run.job)
    )
    for job, finished_at in session.execute(successes):
        if job in wanted:
            history.last_success[job] = finished_at.timestamp()
    live = select(Run.id, Run.job, Run.status).where(Run.status.in_(LIVE_STATUSES))
    for run_id, job, status in session.execute(live):
        if job in wanted:
            history.live[run_id] = (job, status)
    return history
