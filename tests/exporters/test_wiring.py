"""``install_metrics`` on the collector's real parts: bus, database, probe manager."""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from collector.events import EventBus, RunChanged
from collector.jobconfig import JobConfigBase
from collector.probes.manager import ProbeManager
from collector.store import migrate
from collector.store.database import Database
from collector.store.models import Run
from collector.tasks import BackgroundTasks
from exporters.wiring import install_metrics
from tests.exporters.helpers import JOBS, T0, run_view, samples, value


@dataclass
class Settings:
    jobs: list[JobConfigBase] = field(default_factory=lambda: JOBS)


@dataclass
class Activity:
    def queue_size(self) -> int:
        return 2


@dataclass
class Host:
    db: Database
    bus: EventBus = field(default_factory=EventBus)
    settings: Settings = field(default_factory=Settings)
    activity: Activity = field(default_factory=Activity)
    version: str = "4.5.6"
    probes: ProbeManager | None = None

    def scheduler_next_run(self, job_name: str) -> datetime | None:
        return T0 if job_name == "crm" else None


def test_install_metrics_restores_subscribes_and_includes_the_probes(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/t.db")
    migrate.upgrade(database)
    with database.write() as session:
        session.add(
            Run(
                job="crm",
                status="running",
                trigger="schedule",
                params={},
                dry_run=False,
                queued_at=T0,
                started_at=T0,
                records_processed=0,
                records_created=0,
                records_updated=0,
                records_failed=0,
            )
        )
    host = Host(db=database)
    tasks = BackgroundTasks(database, host.bus, BackgroundScheduler())
    host.probes = ProbeManager({}, database=database, bus=host.bus, tasks=tasks)
    metrics = install_metrics(host)
    parsed = samples(metrics.render(openmetrics=False))
    assert value(parsed, "jobwatch_job_runs_in_progress", job="crm") == 1
    assert value(parsed, "jobwatch_build_info", version="4.5.6") == 1
    assert value(parsed, "jobwatch_activity_queue_size") == 2
    assert value(parsed, "jobwatch_job_next_run_timestamp_seconds", job="crm") == T0.timestamp()
    assert b"# TYPE jobwatch_probe_up gauge" in metrics.render(openmetrics=False)
    done = run_view(1, "crm", "success", started_at=T0.isoformat(), finished_at=T0.isoformat())
    host.bus.publish(RunChanged(run={**done, "duration_seconds": 1.0}, previous_status="running"))
    parsed = samples(metrics.render(openmetrics=False))
    assert value(parsed, "jobwatch_job_runs_in_progress", job="crm") == 0
    assert value(parsed, "jobwatch_job_runs_total", job="crm", status="success") == 1
    database.dispose()
