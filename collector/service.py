"""The collector: wires store, executor, scheduler, tasks and probes, and owns their lifetimes."""

import logging
import os
import threading
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from collector import __version__, activity
from collector.activity import ActivityWriter, log_activity
from collector.config import Settings
from collector.dashboard_settings import DashboardConfig, DashboardSettings
from collector.events import EventBus, ScheduleMissed
from collector.executor import LocalExecutor
from collector.jobconfig import JobConfigBase
from collector.params import redact, validate_params
from collector.probes.manager import ProbeManager
from collector.reporting import ExternalRuns
from collector.retention import RetentionTask
from collector.runs import RunStore, run_view
from collector.scheduling import JobScheduler
from collector.store import migrate
from collector.store.database import Database
from collector.store.queries import last_scheduled_runs, last_sign_of_life
from collector.tasks import BackgroundTasks
from exporters.metrics import JobwatchMetrics
from exporters.wiring import install_metrics

logger = logging.getLogger(__name__)
RETENTION_TASK = "retention_cleanup"


class UnknownJob(LookupError):
    pass


class JobBusy(Exception):
    """The job forbids overlap and a run of it is queued or running."""

    def __init__(self, job: str, run_id: int) -> None:
        self.run_id = run_id
        super().__init__(f"job {job!r} is already running (run {run_id}) and its overlap is 'skip'")


class NotRunnable(Exception):
    pass


class ShuttingDown(Exception):
    """The collector is stopping and takes no new runs."""


class Collector:
    def __init__(self, settings: Settings, *, config_path: Path | None = None) -> None:
        self.settings = settings
        self.config_path = config_path
        self.version = __version__
        self.bus = EventBus()
        self.db = Database(settings.database_url)
        self.activity = ActivityWriter(self.db, self.bus)
        self.runs = RunStore(self.db, self.bus)
        self.executor = LocalExecutor(self.runs, max_concurrent=settings.max_concurrent_runs)
        self.scheduler = BackgroundScheduler(
            timezone=UTC, executors={"default": ThreadPoolExecutor(max_workers=16)}
        )
        self.jobs = JobScheduler(
            self.scheduler,
            self.bus,
            fire=self._fire_scheduled,
            misfire_grace_time=settings.misfire_grace_time,
        )
        self.tasks = BackgroundTasks(self.db, self.bus, self.scheduler)
        self.external = ExternalRuns(settings, self.db, self.runs)
        self.probes = ProbeManager(
            dict(settings.probes), database=self.db, bus=self.bus, tasks=self.tasks
        )
        self.metrics: JobwatchMetrics | None = None
        self.started_at: datetime | None = None
        self._trigger_lock = threading.Lock()
        self._stack = ExitStack()
        self.stopping = threading.Event()
        self.dashboard: DashboardSettings | None = None

    def job(self, name: str) -> JobConfigBase:
        job = self.settings.job(name)
        if job is None:
            raise UnknownJob(name)
        return job

    def _cancel_grace(self, job_name: str) -> float:
        job = self.settings.job(job_name)
        return (
            job.cancel_grace
            if job is not None
            else JobConfigBase.model_fields["cancel_grace"].default
        )

    def scheduler_next_run(self, job_name: str) -> datetime | None:
        return self.jobs.next_run(job_name)

    def start(self) -> None:
        """Migrate, settle what a previous process left, then start everything that runs."""
        migrate.upgrade(self.db)
        with self.db.read() as session:
            previous_alive = last_sign_of_life(session)
        self.dashboard = DashboardSettings(
            self.db,
            DashboardConfig(
                retention_days=self.settings.retention_days,
                auto_refresh_interval=self.settings.auto_refresh_interval,
            ),
        )
        self.activity.start()
        self._stack.enter_context(activity.installed(self.activity))
        self.metrics = install_metrics(self)
        self.runs.abandon_orphans(self._cancel_grace)
        with self.db.read() as session:
            last_fired = last_scheduled_runs(session)
        now = datetime.now(UTC)
        for job in self.settings.jobs:
            self.jobs.add(job)
            if job.name in last_fired:
                self.jobs.report_downtime(job, last_fired[job.name], now, since=previous_alive)
        self.tasks.add(
            RETENTION_TASK,
            RetentionTask(self.db, self.bus, lambda: self.dashboard_config().retention_days),
            self.settings.retention_interval,
        )
        self.external.schedule_sweep(self.tasks)
        self.probes.start()
        self.scheduler.start()
        self.started_at = datetime.now(UTC)
        log_activity(
            "system",
            f"jobwatch {self.version} started with {len(self.settings.jobs)} job(s)",
            details={"jobs": [job.name for job in self.settings.jobs], "pid": os.getpid()},
        )

    def dashboard_config(self) -> DashboardConfig:
        assert self.dashboard is not None, "the collector is not started"
        return self.dashboard.get()

    def trigger(
        self,
        job_name: str,
        params: dict[str, Any] | None = None,
        *,
        trigger: str = "api",
        dry_run: bool = False,
        user: str | None = None,
    ) -> dict[str, Any]:
        """Validate, record, queue; raises UnknownJob, ParamsError, JobBusy or NotRunnable."""
        job = self.job(job_name)
        if not job.runs_here():
            raise NotRunnable(
                f"job {job_name!r} runs elsewhere and reports in; it cannot be triggered"
            )
        checked = validate_params(job.params, params)
        with self._trigger_lock:
            if self.stopping.is_set():
                raise ShuttingDown("jobwatch is shutting down; try again once it is back")
            if job.overlap == "skip":
                active = self.runs.active_runs(job.name)
                if active:
                    raise JobBusy(job.name, active[0].id)
            view = self.runs.create(
                job.name, redact(job.params, checked), trigger=trigger, dry_run=dry_run, user=user
            )
            self.executor.submit(view["id"], job, checked, dry_run)
        if user:
            log_activity(
                "user_action",
                f"{user} triggered {job.name} (run #{view['id']})",
                user=user,
                job=job.name,
                run_id=view["id"],
            )
        return view

    def _fire_scheduled(self, job_name: str) -> None:
        try:
            self.trigger(job_name, trigger="schedule")
        except ShuttingDown:
            return
        except JobBusy as busy:
            log_activity(
                "system",
                f"Skipped the scheduled run of {job_name}: run #{busy.run_id} is still going",
                status="warning",
                job=job_name,
                run_id=busy.run_id,
            )
            self.bus.publish(ScheduleMissed(job=job_name, scheduled_at=datetime.now(UTC)))
        except Exception as exc:
            logger.exception("scheduled trigger of %s failed", job_name)
            log_activity(
                "error",
                f"Could not start the scheduled run of {job_name}: {exc}",
                status="error",
                job=job_name,
            )

    def run(self, run_id: int) -> dict[str, Any]:
        """A run's API form, live counts included while it runs."""
        return run_view(self.runs.get_row(run_id), self.executor.live(run_id))

    def cancel(self, run_id: int, *, user: str | None = None) -> dict[str, Any]:
        run = self.runs.get_row(run_id)
        if run.status in ("queued", "running") and not self.executor.cancel(run_id):
            self.runs.finish(run_id, "cancelled", error="cancelled on request")
        if user:
            log_activity(
                "user_action",
                f"{user} cancelled run #{run_id} of {run.job}",
                user=user,
                job=run.job,
                run_id=run_id,
            )
        return self.run(run_id)

    def stop(self) -> None:
        """Stop scheduling, settle running runs within the grace, flush the activity log."""
        with self._trigger_lock:
            self.stopping.set()
        log_activity("system", "jobwatch is shutting down", details={"pid": os.getpid()})
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.executor.shutdown(self.settings.shutdown_grace)
        log_activity("system", "jobwatch stopped", details={"pid": os.getpid()})
        self._stack.close()
        self.activity.close()
        self.db.dispose()
