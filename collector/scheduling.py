"""Schedules from the config, on APScheduler 3.

APScheduler's default misfire grace is one second, which silently drops a run that
was merely late (a busy box, a suspended laptop). Here the grace comes from the
config, late runs coalesce into one, and every miss that APScheduler reports is
written to the activity log and published for the metrics.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler

from collector.activity import log_activity
from collector.events import EventBus, ScheduleMissed
from collector.jobconfig import JobConfigBase

logger = logging.getLogger(__name__)
JOB_PREFIX = "job:"
MAX_REPORTED_MISSES = 1000


class JobScheduler:
    def __init__(
        self,
        scheduler: BaseScheduler,
        bus: EventBus,
        *,
        fire: Callable[[str], None],
        misfire_grace_time: float,
    ) -> None:
        self._scheduler = scheduler
        self._bus = bus
        self._fire = fire
        self._misfire_grace_time = misfire_grace_time
        scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)

    def add(self, job: JobConfigBase) -> None:
        if job.schedule is None or not job.runs_here():
            return
        self._scheduler.add_job(
            self._fire,
            job.schedule.trigger(),
            args=[job.name],
            id=f"{JOB_PREFIX}{job.name}",
            name=job.name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(int(self._misfire_grace_time), 1),
            replace_existing=True,
        )

    def report_downtime(
        self,
        job: JobConfigBase,
        last_fired: datetime,
        now: datetime,
        *,
        since: datetime | None = None,
    ) -> int:
        """Count and log the fire times that fell while no collector was running.

        APScheduler only sees misses inside its own process; the ones during a
        restart or outage would otherwise vanish. ``last_fired`` is when the previous
        process last ran the job on schedule; ``since`` is its last sign of life. Fire
        times before that were the old process's to run, skip or report, so they
        are not downtime (a long ``skip`` run's skipped fire times would be counted
        again otherwise).
        """
        if job.schedule is None:
            return 0
        grace = timedelta(seconds=self._misfire_grace_time)
        missed: list[datetime] = []
        if job.schedule.interval_seconds is not None:
            step = timedelta(seconds=job.schedule.interval_seconds)
            moment = last_fired + step
            if since is not None and moment <= since:  # jump to the first after ``since``
                moment += step * ((since - moment) // step + 1)
            while moment + grace < now and len(missed) < MAX_REPORTED_MISSES:
                missed.append(moment)
                moment += step
        else:
            trigger = job.schedule.trigger()
            start = max(last_fired, since) if since is not None else last_fired
            moment = trigger.get_next_fire_time(None, start + timedelta(seconds=1))
            while moment is not None and moment + grace < now and len(missed) < MAX_REPORTED_MISSES:
                missed.append(moment)
                moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
        if not missed:
            return 0
        log_activity(
            "system",
            f"Missed {len(missed)}{'+' if len(missed) == MAX_REPORTED_MISSES else ''} "
            f"scheduled run(s) of {job.name} while jobwatch was not running "
            f"({missed[0].isoformat()} to {missed[-1].isoformat()})",
            status="warning",
            job=job.name,
            details={"missed": len(missed), "first": missed[0].isoformat()},
        )
        for moment in missed:
            self._bus.publish(ScheduleMissed(job=job.name, scheduled_at=moment))
        return len(missed)

    def next_run(self, job_name: str) -> datetime | None:
        job = self._scheduler.get_job(f"{JOB_PREFIX}{job_name}")
        return job.next_run_time if job is not None else None

    def _on_missed(self, event: JobExecutionEvent) -> None:
        if not event.job_id.startswith(JOB_PREFIX):
            return
        name = event.job_id.removeprefix(JOB_PREFIX)
        scheduled = event.scheduled_run_time
        log_activity(
            "system",
            f"Missed the scheduled run of {name} at {scheduled.isoformat()} "
            f"(more than {self._misfire_grace_time:g}s late)",
            status="warning",
            job=name,
            details={"scheduled_at": scheduled.isoformat()},
        )
        self._bus.publish(ScheduleMissed(job=name, scheduled_at=scheduled))
