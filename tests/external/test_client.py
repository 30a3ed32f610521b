"""``collector.client.track_run`` in this process, against a real collector."""

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from collector.client import current_run, track_run
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
