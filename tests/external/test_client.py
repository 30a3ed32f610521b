"""``collector.client.track_run`` in this process, against a real collector."""

import json
import threading
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from collector import client as client_module
from collector.client import TrackedRun, current_run, track_run
from tests.exporters.otlp_receiver import OtlpReceiver
from tests.external.conftest import TOKEN, runs_of
from tests.support.process import CollectorProcess, free_port


def test_a_run_records_its_counts_and_result(collector: CollectorProcess, spool_dir: Path) -> None:
    with track_run("with_params", server=collector.url, token=TOKEN, params={"batch": 50}) as run:
        run.progress(created=3)
        assert run.run_id is not None
        live = collector.api("GET", f"/runs/{run.run_id}").json()
        assert (live["status"], live["records_created"]) == ("running", 3)
        assert live["params"] == {"batch": 50}
        run.progress(created=2, processed=5, message="page 2")
        run.set_result(pages=2)
    done = collector.api("GET", f"/runs/{run.run_id}").json()
    assert (done["status"], done["trigger"], done["error"]) == ("success", "external", None)
    assert (done["records_processed"], done["records_created"], done["message"]) == (5, 5, "page 2")
    assert done["result"] == {"pages": 2}


def test_an_exception_fails_the_run_and_is_raised(
    collector: CollectorProcess, spool_dir: Path
) -> None:
    tracked = track_run("nightly", server=collector.url, token=TOKEN)
    with pytest.raises(ValueError, match="bad row 7"), tracked as run:
        run.progress(processed=6, failed=1)
        raise ValueError("bad row 7")
    done = collector.api("GET", f"/runs/{run.run_id}").json()
    assert (done["status"], done["error"]) == ("failed", "ValueError: bad row 7")
    assert (done["records_processed"], done["records_failed"]) == (6, 1)
    assert 'raise ValueError("bad row 7")' in done["log_tail"]


def test_as_a_decorator_each_call_is_a_run(
    collector: CollectorProcess, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBWATCH_SERVER", collector.url)
    monkeypatch.setenv("JOBWATCH_API_TOKEN", TOKEN)
    ids: list[int | None] = []

    @track_run("with_params")
    def sync(rows: int) -> int:
        run = current_run()
        assert run is not None
        ids.append(run.run_id)
        run.progress(processed=rows, failed=1)
        return rows

    assert (sync(4), sync(2)) == (4, 2)
    assert current_run() is None
    first, second = (collector.api("GET", f"/runs/{run_id}").json() for run_id in ids)
    assert (first["status"], first["records_processed"]) == ("partial", 4)
    assert (second["status"], second["records_processed"]) == ("partial", 2)
    assert first["error"] == "1 record(s) failed"


def test_the_run_joins_the_callers_trace(
    collector: CollectorProcess, traces: OtlpReceiver, spool_dir: Path
) -> None:
    tracer = TracerProvider().get_tracer("caller")
    with (
        tracer.start_as_current_span("nightly batch") as caller,
        track_run("nightly", server=collector.url, token=TOKEN) as run,
        tracer.start_as_current_span("inside") as inner,
    ):
        run.progress(processed=1)
    trace_id = f"{caller.get_span_context().trace_id:032x}"
    assert inner.get_span_context().trace_id == caller.get_span_context().trace_id
    assert collector.api("GET", f"/runs/{run.run_id}").json()["trace_id"] == trace_id
    span = traces.wait_for("jobwatch.run nightly", trace_id=trace_id)
    assert span.parent_span_id == f"{caller.get_span_context().span_id:016x}"
    assert span.attributes["jobwatch.run_id"] == run.run_id
    assert (span.attributes["jobwatch.status"], span.attributes["jobwatch.records.processed"]) == (
        "success",
        1,
    )


def test_an_unreachable_collector_costs_seconds_and_the_report_waits_in_the_spool(
    collector: CollectorProcess, spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with track_run("nightly", server=dead, token=TOKEN, client_run_id="offline-1") as run:
        run.progress(processed=2)
        run.progress(processed=1)
    assert run.run_id is None
    assert f"cannot reach the collector at {dead}" in caplog.text
    [spooled] = list(spool_dir.glob("*.json"))
    record = json.loads(spooled.read_text())
    assert (record["finish"]["status"], record["finish"]["processed"]) == ("success", 3)

    record["server"] = collector.url  # as if the collector came back at that address
    spooled.write_text(json.dumps(record))
    with track_run("nightly", server=collector.url, token=TOKEN):
        pass
    assert list(spool_dir.glob("*")) == []
    [late] = [r for r in runs_of(collector, "nightly") if r["client_run_id"] == "offline-1"]
    assert (late["status"], late["records_processed"]) == ("success", 3)


class _SyncFailed(Exception):
    def __init__(self, rows: list[int]) -> None:
        super().__init__(f"rows {rows} failed")
        self.rows = rows


def test_exceptions_keep_their_type_and_identity(
    collector: CollectorProcess, spool_dir: Path
) -> None:
    raised = _SyncFailed([3, 9])
    with (
        pytest.raises(_SyncFailed) as caught,
        track_run("nightly", server=collector.url, token=TOKEN) as failed,
    ):
        raise raised
    assert caught.value is raised and caught.value.rows == [3, 9]
    with (
        pytest.raises(KeyboardInterrupt),
        track_run("nightly", server=collector.url, token=TOKEN) as stopped,
    ):
        raise KeyboardInterrupt
    with (
        pytest.raises(SystemExit) as exited,
        track_run("nightly", server=collector.url, token=TOKEN) as done,
    ):
        raise SystemExit(0)
    assert exited.value.code == 0
    statuses = [
        collector.api("GET", f"/runs/{run.run_id}").json() for run in (failed, stopped, done)
    ]
    assert [(s["status"], s["error"]) for s in statuses] == [
        ("failed", "_SyncFailed: rows [3, 9] failed"),
        ("cancelled", "KeyboardInterrupt: "),
        ("success", None),
    ]


def test_nested_runs_and_a_tracker_entered_twice(
    collector: CollectorProcess, spool_dir: Path
) -> None:
    with track_run("nightly", server=collector.url, token=TOKEN) as outer:
        with track_run("with_params", server=collector.url, token=TOKEN) as inner:
            assert current_run() is inner
            inner.progress(processed=2)
        assert current_run() is outer
        outer.progress(processed=1)
    assert current_run() is None
    again = track_run("nightly", server=collector.url, token=TOKEN)
    with again as first:
        with again as second:
            assert current_run() is second
        assert current_run() is first
    assert current_run() is None
    runs = [
        collector.api("GET", f"/runs/{run.run_id}").json() for run in (outer, inner, first, second)
    ]
    assert [run["status"] for run in runs] == ["success"] * 4
    assert [run["records_processed"] for run in runs] == [1, 2, 0, 0]
    assert len({run["id"] for run in runs}) == 4


def test_one_tracker_in_two_threads_at_once(collector: CollectorProcess, spool_dir: Path) -> None:
    """A tracker made once (say at module level) and entered by worker threads."""
    tracker = track_run("nightly", server=collector.url, token=TOKEN)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    runs: dict[str, TrackedRun] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with tracker as run:
                runs["first"] = run
                run.progress(processed=1)
                first_in.set()
                assert second_in.wait(30)
                assert current_run() is run
        except BaseException as exc:
            errors.append(exc)
        finally:
            first_out.set()

    def second() -> None:
        try:
            assert first_in.wait(30)
            with tracker as run:
                runs["second"] = run
                run.progress(processed=2)
                second_in.set()
                assert first_out.wait(30)
                assert current_run() is run
        except BaseException as exc:
            errors.append(exc)
            second_in.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    done = {name: collector.api("GET", f"/runs/{run.run_id}").json() for name, run in runs.items()}
    assert (done["first"]["status"], done["first"]["records_processed"]) == ("success", 1)
    assert (done["second"]["status"], done["second"]["records_processed"]) == ("success", 2)


def test_progress_from_many_threads_adds_up(collector: CollectorProcess, spool_dir: Path) -> None:
    with track_run("metered", server=collector.url, token=TOKEN) as run:

        def work() -> None:
            for _ in range(100):
                run.progress(processed=1, created=1)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    done = collector.api("GET", f"/runs/{run.run_id}").json()
    assert (done["records_processed"], done["records_created"]) == (800, 800)


def test_progress_after_the_block_is_ignored_with_a_warning(
    collector: CollectorProcess,
    spool_dir: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_module, "PROGRESS_INTERVAL", 0.0)  # every call is sent at once
    with track_run("nightly", server=collector.url, token=TOKEN) as run:
        run.progress(processed=3)
    caplog.clear()
    run.progress(processed=5)
    run.set_result(late=True)
    assert run.counts()["processed"] == 3
    assert "after the run of nightly ended" in caplog.text
    assert "cannot reach" not in caplog.text and "could not report" not in caplog.text
    done = collector.api("GET", f"/runs/{run.run_id}").json()
    assert (done["status"], done["records_processed"], done["result"]) == ("success", 3, None)
    assert not spool_dir.exists()
