"""The executor and the run record when things happen in an awkward order.

Each test holds the supervisor at a chosen point with events (not a sleep-and-hope),
makes the awkward thing happen there, and checks what ends up in the database: a run that
is final stays final, a cancelled run never starts its work, and a progress write
that fails does not fail or stall the job.
"""

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from collector import executor as executor_module
from collector.context import RunContext
from collector.events import EventBus, RunChanged
from collector.executor import LocalExecutor
from collector.kinds.command import CommandJob
from collector.kinds.python import PythonJob
from collector.runs import RunFinished, RunStore
from collector.store.database import Database
from tests.core.helpers import PYTHON, pid_alive, read_pid
from tests.support.process import wait_for

ran: list[int] = []
hold = threading.Event()


def record_call(ctx: RunContext) -> None:
    """A python job target that only notes that it ran."""
    ran.append(ctx.run_id)


def report_progress(ctx: RunContext) -> dict[str, int]:
    """A python job target that reports progress three times."""
    for _ in range(3):
        ctx.progress(processed=1, created=1)
    return {"done": 1}


def progress_then_hold(ctx: RunContext) -> None:
    """Reports once, then ignores cancellation until the test releases it."""
    ctx.progress(processed=1)
    hold.wait(30)
    ctx.progress(processed=100, message="too late")


class GatedRuns(RunStore):
    """A RunStore whose ``mark_running`` waits for the test, and that can fail on purpose."""

    def __init__(self, database: Database, bus: EventBus) -> None:
        super().__init__(database, bus)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.progress_error: Exception | None = None
        self.start_error: Exception | None = None
        self.finish_failures = 0

    def mark_running(self, run_id: int, trace_id: str | None, **kwargs: Any) -> dict[str, Any]:
        self.entered.set()
        assert self.release.wait(30)
        if self.start_error is not None:
            raise self.start_error
        return super().mark_running(run_id, trace_id, **kwargs)

    def record_progress(self, ctx: RunContext, *, force: bool = False) -> None:
        if self.progress_error is not None:
            raise self.progress_error
        super().record_progress(ctx, force=force)

    def finish(self, run_id: int, status: str, **kwargs: Any) -> dict[str, Any]:
        if self.finish_failures:
            self.finish_failures -= 1
            raise OperationalError("UPDATE runs", {}, Exception("server closed the connection"))
        return super().finish(run_id, status, **kwargs)


@pytest.fixture
def runs(sqlite_db: Database) -> GatedRuns:
    return GatedRuns(sqlite_db, EventBus())


def _run(runs: GatedRuns, executor: LocalExecutor, job: Any) -> tuple[int, threading.Event]:
    """Create and submit a run; the event is set once the run is recorded final."""
    ended, _ = _final_events(runs._bus)
    run_id = runs.create(job.name, {}, trigger="api")["id"]
    executor.submit(run_id, job, {}, False)
    return run_id, ended


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    ran.clear()
    hold.clear()
    yield
    hold.set()


def _python_job(name: str, target: str, **fields: Any) -> PythonJob:
    return PythonJob(name=name, kind="python", target=f"{__name__}:{target}", **fields)


def _final_events(bus: EventBus) -> tuple[threading.Event, list[dict[str, Any]]]:
    """An event set when any run is published final, and the list of those runs."""
    ended = threading.Event()
    finals: list[dict[str, Any]] = []

    def on_event(event: object) -> None:
        if isinstance(event, RunChanged) and event.finished:
            finals.append(event.run)
            ended.set()

    bus.subscribe(on_event)
    return ended, finals


def test_mark_running_refuses_a_run_that_already_ended(runs: GatedRuns) -> None:
    run = runs.create("quick", {}, trigger="api")
    runs.finish(run["id"], "cancelled", error="cancelled on request")

    with pytest.raises(RunFinished):
        runs.mark_running(run["id"], None)
    row = runs.get_row(run["id"])
    assert (row.status, row.started_at) == ("cancelled", None)


def test_a_run_cancelled_between_dispatch_and_start_never_runs(runs: GatedRuns) -> None:
    executor = LocalExecutor(runs, max_concurrent=1)
    runs.release.clear()
    run_id, ended = _run(runs, executor, _python_job("quick", "record_call"))
    assert runs.entered.wait(10), "the supervisor never reached mark_running"

    assert executor.cancel(run_id) is True
    runs.release.set()
    assert ended.wait(10)

    row = runs.get_row(run_id)
    assert (row.status, row.error) == ("cancelled", "cancelled on request")
    assert ran == [], "the job ran although it was cancelled before it started"


def test_shutdown_that_settles_a_run_before_it_starts_is_not_undone(runs: GatedRuns) -> None:
    executor = LocalExecutor(runs, max_concurrent=1)
    runs.release.clear()
    run_id, _ = _run(runs, executor, _python_job("quick", "record_call"))
    assert runs.entered.wait(10)
    active = executor._active[run_id]

    executor.shutdown(0)  # no grace: the run is recorded cancelled at once
    assert runs.get_row(run_id).status == "cancelled"
    runs.release.set()  # the supervisor now reaches mark_running, too late
    assert active.done.wait(10)

    row = runs.get_row(run_id)
    assert row.status == "cancelled", "a final run was moved back to running"
    assert row.error == "the collector shut down while it ran"
    assert ran == []


def test_a_failing_progress_write_neither_fails_the_job_nor_loses_its_counts(
    runs: GatedRuns,
) -> None:
    runs.progress_error = OperationalError("UPDATE runs", {}, Exception("database is down"))
    executor = LocalExecutor(runs, max_concurrent=1)
    run_id, ended = _run(runs, executor, _python_job("counter", "report_progress"))
    assert ended.wait(10)

    row = runs.get_row(run_id)
    assert row.status == "success", row.error
    assert (row.records_processed, row.records_created) == (3, 3)
    assert row.result == {"done": 1}


def test_a_command_keeps_being_read_when_progress_writes_fail(runs: GatedRuns) -> None:
    """The reader thread must survive: a dead reader leaves the child blocked on a full pipe."""
    runs.progress_error = OperationalError("UPDATE runs", {}, Exception("database is down"))
    script = (
        "import json\n"
        "for i in range(1, 201):\n"
        "    print('@jobwatch ' + json.dumps({'processed': i}))\n"
        "    print('x' * 1000)\n"  # 200 KB in all: far more than a pipe holds
        "print('done')\n"
    )
    job = CommandJob(
        name="chatty", kind="command", command=[PYTHON, "-c", script], timeout=20, cancel_grace=1
    )
    run_id, ended = _run(runs, LocalExecutor(runs, max_concurrent=1), job)
    assert ended.wait(30)

    row = runs.get_row(run_id)
    assert row.status == "success", row.error
    assert row.records_processed == 200
    assert row.log_tail.splitlines()[-1] == "done"


def test_a_final_write_that_fails_briefly_is_retried(
    runs: GatedRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Otherwise the run stays ``running`` and a ``skip`` job answers 409 until a restart."""
    monkeypatch.setattr(executor_module, "FINISH_RETRY_DELAYS", (0.0, 0.0, 0.0))
    runs.finish_failures = 2
    run_id, ended = _run(
        runs, LocalExecutor(runs, max_concurrent=1), _python_job("q", "record_call")
    )
    assert ended.wait(10), f"the run stayed {runs.get_row(run_id).status}"

    row = runs.get_row(run_id)
    assert row.status == "success", row.error
    assert ran == [run_id]


def test_a_run_whose_start_cannot_be_recorded_ends_failed_not_queued(
    runs: GatedRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run left ``queued`` holds a ``skip`` job (409 on every trigger) until a restart."""
    monkeypatch.setattr(executor_module, "FINISH_RETRY_DELAYS", (0.0, 0.0, 0.0))
    runs.start_error = OperationalError("UPDATE runs", {}, Exception("database is down"))
    runs.finish_failures = 1
    run_id, ended = _run(
        runs, LocalExecutor(runs, max_concurrent=1), _python_job("q", "record_call")
    )
    assert ended.wait(10), f"the run stayed {runs.get_row(run_id).status}"

    row = runs.get_row(run_id)
    assert (row.status, row.error) == ("failed", "internal error in jobwatch; see its log")
    assert ran == []


def test_an_abandoned_thread_cannot_touch_the_run_it_outlived(runs: GatedRuns) -> None:
    _, finals = _final_events(runs._bus)
    executor = LocalExecutor(runs, max_concurrent=1)
    job = _python_job("deaf", "progress_then_hold", timeout=0.2, cancel_grace=0)
    run_id, ended = _run(runs, executor, job)
    assert ended.wait(10), "the run was never recorded final"
    wait_idle = threading.Event()

    def idle() -> None:
        while executor.running_ids():
            threading.Event().wait(0.01)
        wait_idle.set()

    threading.Thread(target=idle, daemon=True).start()
    assert wait_idle.wait(10), "the abandoned thread still holds the executor's slot"

    hold.set()  # the abandoned thread wakes up and reports once more
    worker = next(t for t in threading.enumerate() if t.name == f"job-{run_id}")
    worker.join(10)

    row = runs.get_row(run_id)
    assert (row.status, row.records_processed, row.message) == ("timed_out", 1, None)
    assert row.error == "timed out after 0.2s"
    assert [final["status"] for final in finals] == ["timed_out"]
    assert run_id not in runs._last_progress_write, "throttle state leaked for the run"


def test_progress_reported_after_finish_leaves_no_throttle_state(runs: GatedRuns) -> None:
    run = runs.create("quick", {}, trigger="api")
    runs.mark_running(run["id"], None)
    ctx = RunContext(run_id=run["id"], job="quick", params={})
    runs.finish(run["id"], "success")

    ctx.progress(processed=5)
    runs.record_progress(ctx)

    row = runs.get_row(run["id"])
    assert (row.status, row.records_processed) == ("success", 0)
    assert run["id"] not in runs._last_progress_write


def test_shutdown_ends_a_process_group_whose_cancel_grace_outlasts_it(
    runs: GatedRuns, tmp_path: Path
) -> None:
    """The run is recorded cancelled at the end of the shutdown grace; its processes must
    not live on after the collector exits (nothing would ever stop them)."""
    pid_file = tmp_path / "leader.pid"
    script = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(60)\n"
    )
    job = CommandJob(name="deaf", kind="command", command=[PYTHON, "-c", script], cancel_grace=60)
    executor = LocalExecutor(runs, max_concurrent=1)
    run_id, _ = _run(runs, executor, job)
    pid = wait_for(lambda: read_pid(pid_file), what="the command to start")

    executor.shutdown(0.5)

    row = runs.get_row(run_id)
    assert (row.status, row.error) == ("cancelled", "the collector shut down while it ran")
    wait_for(lambda: not pid_alive(pid), timeout=3, what="the command to be ended")


def test_a_failing_pid_write_does_not_leave_the_command_unsupervised(runs: GatedRuns) -> None:
    """The pid is kept for crash recovery only; the run goes on without it."""

    def broken(run_id: int, pid: int) -> None:
        raise OperationalError("UPDATE runs", {}, Exception("database is down"))

    runs.record_process = broken  # type: ignore[method-assign]
    job = CommandJob(name="quick", kind="command", command=[PYTHON, "-c", "print('hello')"])
    run_id, ended = _run(runs, LocalExecutor(runs, max_concurrent=1), job)
    assert ended.wait(10)

    row = runs.get_row(run_id)
    assert (row.status, row.log_tail) == ("success", "hello")
