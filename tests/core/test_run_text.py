"""Text a run reports is stored on every backend, even bytes PostgreSQL text cannot hold.

A job's output, an error or a progress message may carry NUL (binary output, a C
string, a fuzzer); PostgreSQL refuses it, which would turn the run's final write
into an "internal error" and lose its log tail. It is stored as U+FFFD instead.
"""

from collector.context import RunContext
from collector.events import EventBus
from collector.runs import RunStore
from collector.store.database import Database


def test_nul_in_what_a_run_reports_is_stored_as_a_replacement(db: Database) -> None:
    runs = RunStore(db, EventBus())
    run_id = runs.create("nul_job", {}, trigger="api")["id"]
    runs.mark_running(run_id, None)
    ctx = RunContext(run_id=run_id, job="nul_job", params={})
    ctx.progress(processed=1, message="step\x001")
    runs.record_progress(ctx, force=True)
    assert runs.get_row(run_id).message == "step\ufffd1"

    runs.finish(
        run_id,
        "failed",
        error="exit code 1: bad\x00byte",
        message="at\x002",
        log_tail="line\x00one\nline two",
        counts=ctx.counts(),
    )

    row = runs.get_row(run_id)
    assert row.status == "failed"
    assert row.error == "exit code 1: bad\ufffdbyte"
    assert row.message == "at\ufffd2"
    assert row.log_tail == "line\ufffdone\nline two"
    assert row.records_processed == 1


def test_nul_in_an_external_progress_report_is_stored(db: Database) -> None:
    runs = RunStore(db, EventBus())
    run_id = runs.create("nul_ext", {}, trigger="external")["id"]
    runs.mark_running(run_id, None)

    runs.record_totals(run_id, {"processed": 4}, "batch\x004")

    row = runs.get_row(run_id)
    assert (row.records_processed, row.message) == (4, "batch\ufffd4")
