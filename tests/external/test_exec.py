"""``jobwatch exec`` as real subprocesses around real commands, against a real collector."""

import json
import shutil
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

from tests.external.conftest import CONFIG, run_exec, runs_of, start_exec
from tests.support.process import CollectorProcess, wait_for

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def progress_line(**totals: object) -> str:
    return "@jobwatch " + json.dumps(totals)


def test_exit_code_output_and_trace_context_pass_through(
    collector: CollectorProcess, spool_dir: Path
) -> None:
    script = (
        "import os, sys\n"
        "print('reading contacts')\n"
        f"print({progress_line(processed=12, created=5, message='batch 1')!r})\n"
        "print('env', os.environ['TRACEPARENT'], os.environ['JOBWATCH_RUN_ID'])\n"
        "print('cannot write row 13', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    done = run_exec(collector.url, "nightly", python(script), spool_dir=spool_dir)
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines()[:2] == [
        "reading contacts",
        progress_line(processed=12, created=5, message="batch 1"),
    ]
    assert "cannot write row 13" in done.stderr
    _, traceparent, run_id = done.stdout.splitlines()[2].split()
    run = collector.api("GET", f"/runs/{run_id}").json()
    assert (run["job"], run["trigger"], run["status"]) == ("nightly", "external", "failed")
    assert run["error"] == "exit code 3: cannot write row 13"
    assert (run["records_processed"], run["records_created"], run["message"]) == (12, 5, "batch 1")
    assert "reading contacts" in run["log_tail"] and "cannot write row 13" in run["log_tail"]
    assert "@jobwatch" not in run["log_tail"]
    assert run["trace_id"] == traceparent.split("-")[1]
    assert not spool_dir.exists()


def test_progress_arrives_while_the_command_runs(
    collector: CollectorProcess, spool_dir: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    script = (
        "import os, time\n"
        f"print({progress_line(processed=7, updated=2)!r}, flush=True)\n"
        "print('trace', os.environ['TRACEPARENT'], flush=True)\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.05)\n"
        f"print({progress_line(processed=9, failed=1)!r}, flush=True)\n"
    )
    traceparent = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"
    wrapper = start_exec(
        collector.url,
        "nightly",
        python(script),
        spool_dir=spool_dir,
        args=("--client-run-id", "progress-test"),
        env={"TRACEPARENT": traceparent},
    )
    try:
        live = wait_for(
            lambda: next(
                (
                    run
                    for run in runs_of(collector, "nightly")
                    if run["client_run_id"] == "progress-test" and run["records_processed"] == 7
                ),
                None,
            ),
            what="the first progress report",
        )
        assert (live["status"], live["records_updated"], live["trace_id"]) == (
            "running",
            2,
            CALLER_TRACE,
        )
        go.touch()
        stdout, stderr = wrapper.communicate(timeout=30)
    finally:
        wrapper.kill()
    assert wrapper.returncode == 0, stderr
    assert f"trace {traceparent}" in stdout.splitlines()
    run = collector.api("GET", f"/runs/{live['id']}").json()
    assert run["status"] == "partial"
    assert (run["records_processed"], run["records_updated"], run["records_failed"]) == (9, 2, 1)


def test_an_unknown_job_never_costs_the_command_its_run(
    collector: CollectorProcess, spool_dir: Path
) -> None:
    done = run_exec(
        collector.url,
        "no_such_job",
        python("print('ran'); raise SystemExit(4)"),
        spool_dir=spool_dir,
    )
    assert (done.returncode, done.stdout) == (4, "ran\n")
    assert "refused the start of no_such_job: 404" in done.stderr
    assert not spool_dir.exists()


def test_a_missing_command_is_a_failed_run_and_exit_127(
    collector: CollectorProcess, spool_dir: Path
) -> None:
    done = run_exec(
        collector.url,
        "nightly",
        ["/no/such/program"],
        spool_dir=spool_dir,
        args=("--client-run-id", "missing-program"),
    )
    assert done.returncode == 127
    [run] = [r for r in runs_of(collector, "nightly") if r["client_run_id"] == "missing-program"]
    assert run["status"] == "failed"
    assert run["error"] == "cannot start '/no/such/program': No such file or directory"


def test_reports_are_spooled_while_the_collector_is_down_and_sent_later(
    collector_process: type[CollectorProcess], spool_dir: Path, tmp_path: Path
) -> None:
    collector = collector_process(CONFIG).start()
    collector.stop()

    script = f"print({progress_line(processed=3, failed=3)!r}); raise SystemExit(5)"
    offline = run_exec(collector.url, "nightly", python(script), spool_dir=spool_dir)
    assert offline.returncode == 5
    assert offline.stdout == progress_line(processed=3, failed=3) + "\n"
    assert f"cannot reach the collector at {collector.url}" in offline.stderr
    [spooled] = list(spool_dir.glob("*.json"))
    kept_copy = shutil.copy(spooled, tmp_path / "copy.json")
    ran_at = time.time()

    collector.start()  # the same database and port
    online = run_exec(
        collector.url, "with_params", python("pass"), spool_dir=spool_dir, args=("-p", "full=true")
    )
    assert online.returncode == 0, online.stderr
    assert "delivered 1 spooled report(s)" in online.stderr
    assert list(spool_dir.glob("*")) == []

    [late] = runs_of(collector, "nightly")
    assert (late["status"], late["records_processed"], late["records_failed"]) == ("failed", 3, 3)
    assert late["error"] == "exit code 5"
    assert late["trigger"] == "external" and late["trace_id"] is not None
    assert datetime.fromisoformat(late["finished_at"]).timestamp() < ran_at
    [now] = runs_of(collector, "with_params")
    assert (now["status"], now["params"]) == ("success", {"full": True})

    shutil.copy(kept_copy, spooled)  # a replay that is repeated must not add a run
    again = run_exec(collector.url, "with_params", python("pass"), spool_dir=spool_dir)
    assert again.returncode == 0 and "delivered 1 spooled report(s)" in again.stderr
    assert [run["id"] for run in runs_of(collector, "nightly")] == [late["id"]]


def test_sigterm_reaches_the_command_and_the_run_is_cancelled(
    collector: CollectorProcess, spool_dir: Path
) -> None:
    wrapper = start_exec(
        collector.url,
        "nightly",
        python("import time; print('up', flush=True); time.sleep(60)"),
        spool_dir=spool_dir,
        args=("--client-run-id", "stopped"),
    )
    try:
        assert wrapper.stdout is not None and wrapper.stdout.readline() == "up\n"
        wrapper.send_signal(signal.SIGTERM)
        wrapper.communicate(timeout=30)
    finally:
        wrapper.kill()
    assert wrapper.returncode == 128 + signal.SIGTERM
    [run] = [r for r in runs_of(collector, "nightly") if r["client_run_id"] == "stopped"]
    assert (run["status"], run["error"]) == ("cancelled", "jobwatch exec was stopped by a signal")
