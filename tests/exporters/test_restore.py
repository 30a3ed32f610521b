"""Start-up restore from a real (SQLite) run history."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.events import RunChanged
from collector.store import migrate
from collector.store.database import Database
from collector.store.models import Run
from exporters.labels import FINAL_STATUSES
from tests.exporters.conftest import MakeMetrics
from tests.exporters.helpers import T0, run_view, samples, value

LAST_RUN = "jobwatch_job_last_run_timestamp_seconds"
LAST_SUCCESS = "jobwatch_job_last_success_timestamp_seconds"
LAST_DURATION = "jobwatch_job_last_run_duration_seconds"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/t.db")
    migrate.upgrade(database)
    yield database
    database.dispose()


def add_run(
    database: Database,
    job: str,
    status: str,
    *,
    finished: datetime | None,
    duration: float | None = 10.0,
    started: bool = True,
    **fields: Any,
) -> int:
    queued = (finished or T0) - timedelta(seconds=(duration or 0) + 5)
    fields = {"trigger": "schedule", "dry_run": False, **fields}
    with database.write() as session:
        run = Run(
            job=job,
            status=status,
            params={},
            queued_at=queued,
            started_at=queued + timedelta(seconds=5) if started else None,
            finished_at=finished,
            duration_seconds=duration if finished and started else None,
            records_processed=0,
            records_created=0,
            records_updated=0,
            records_failed=0,
            **fields,
        )
        session.add(run)
        session.flush()
        return run.id


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_restore_sets_the_gauges_that_describe_the_past(
    database: Database, make_metrics: MakeMetrics
) -> None:
    add_run(database, "crm", "success", finished=at(1), duration=11.0)
    add_run(database, "crm", "failed", finished=at(3), duration=33.0)
    # Cancelled while queued: never ran, so it is not the last run.
    add_run(database, "crm", "cancelled", finished=at(9), started=False)
    add_run(database, "playlist", "success", finished=at(2), duration=2.0)
    # A later dry run is the last run, but not the last success.
    add_run(database, "playlist", "success", finished=at(5), duration=5.0, dry_run=True)
    add_run(database, "ghost", "success", finished=at(7))
    metrics = make_metrics()
    with database.read() as session:
        metrics.restore(session)
    parsed = samples(metrics.render(openmetrics=False))
    assert value(parsed, LAST_RUN, job="crm") == at(3).timestamp()
    assert value(parsed, LAST_DURATION, job="crm") == 33.0
    assert value(parsed, LAST_SUCCESS, job="crm") == at(1).timestamp()
    assert value(parsed, LAST_RUN, job="playlist") == at(5).timestamp()
    assert value(parsed, LAST_DURATION, job="playlist") == 5.0
    assert value(parsed, LAST_SUCCESS, job="playlist") == at(2).timestamp()
    for name in (LAST_RUN, LAST_SUCCESS, LAST_DURATION):
        assert value(parsed, name, job="manual") is None
    assert not any(dict(labels).get("job") == "ghost" for _, labels in parsed)
    # Counters start at 0, as Prometheus expects after a restart.
    for status in FINAL_STATUSES:
        assert value(parsed, "jobwatch_job_runs_total", job="crm", status=status) == 0


def test_live_runs_are_restored_and_settle_with_later_events(
    database: Database, make_metrics: MakeMetrics
) -> None:
    running = add_run(database, "crm", "running", finished=None, trigger="external")
    queued = add_run(database, "crm", "queued", finished=None, started=False)
    metrics = make_metrics()
    with database.read() as session:
        metrics.restore(session)
    parsed = samples(metrics.render(openmetrics=False))
    assert value(parsed, "jobwatch_job_runs_in_progress", job="crm") == 1
    assert value(parsed, "jobwatch_job_runs_queued", job="crm") == 1
    # The collector then abandons the queued one and the external one finishes.
    abandoned = run_view(queued, "crm", "abandoned", finished_at=at(10).isoformat())
    metrics.handle(RunChanged(run=abandoned, previous_status="queued"))
    finished = run_view(
        running,
        "crm",
        "success",
        started_at=at(9).isoformat(),
        finished_at=at(10).isoformat(),
        duration_seconds=60.0,
    )
    metrics.handle(RunChanged(run=finished, previous_status="running"))
    parsed = samples(metrics.render(openmetrics=False))
    assert value(parsed, "jobwatch_job_runs_in_progress", job="crm") == 0
    assert value(parsed, "jobwatch_job_runs_queued", job="crm") == 0
    assert value(parsed, "jobwatch_job_runs_total", job="crm", status="abandoned") == 1
    assert value(parsed, LAST_SUCCESS, job="crm") == at(10).timestamp()


def test_restoring_an_empty_history_changes_nothing(
    database: Database, make_metrics: MakeMetrics
) -> None:
    metrics = make_metrics()
    before = metrics.render(openmetrics=False)
    with database.read() as session:
        metrics.restore(session)
    assert metrics.render(openmetrics=False) == before
