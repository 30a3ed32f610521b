"""``jobwatch exec`` as real subprocesses around real commands, against a real collector."""

import json
import shutil
import signal
import sys
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from collector.spool import Spool, SpooledRun
from tests.external.conftest import CONFIG, run_exec, runs_of, start_exec
from tests.support.process import CollectorProcess, free_port, wait_for

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


def test_sigint_sent_to_exec_alone_reaches_the_command(
    collector: CollectorProcess, spool_dir: Path
) -> None:
    """A supervisor, ``timeout -s INT`` or a CI runner signals the wrapper, not its children."""
    wrapper = start_exec(
        collector.url,
        "nightly",
        python("import time; print('up', flush=True); time.sleep(60)"),
        spool_dir=spool_dir,
        args=("--client-run-id", "interrupted"),
        new_session=True,
    )
    try:
        assert wrapper.stdout is not None and wrapper.stdout.readline() == "up\n"
        wrapper.send_signal(signal.SIGINT)
        _, stderr = wrapper.communicate(timeout=30)
    finally:
        wrapper.kill()
    assert wrapper.returncode == 128 + signal.SIGINT, stderr
    [run] = [r for r in runs_of(collector, "nightly") if r["client_run_id"] == "interrupted"]
    assert run["status"] == "cancelled"


def test_stdin_reaches_the_command(collector: CollectorProcess, spool_dir: Path) -> None:
    text = "hi\nthere, no newline at the end"
    done = run_exec(collector.url, "nightly", ["cat"], spool_dir=spool_dir, stdin=text)
    assert (done.returncode, done.stdout) == (0, text), done.stderr


def test_an_unwritable_spool_warns_and_keeps_the_exit_code(spool_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    dead = f"http://127.0.0.1:{free_port()}"
    done = run_exec(
        dead,
        "nightly",
        python("print('did the work'); raise SystemExit(7)"),
        spool_dir=spool_dir,
        args=("--spool-dir", str(blocker / "spool")),
    )
    assert (done.returncode, done.stdout) == (7, "did the work\n")
    assert "could not spool the report of nightly" in done.stderr
    assert "Traceback" not in done.stderr


def spooled(server: str, client_run_id: str, status: str = "success") -> SpooledRun:
    start = {
        "job": "nightly",
        "params": {},
        "client_run_id": client_run_id,
        "started_at": "2026-01-05T03:00:00+00:00",
    }
    finish = {"status": status, "processed": 4, "finished_at": "2026-01-05T03:00:05+00:00"}
    return SpooledRun(server, start, finish, {})


def test_unreadable_spool_records_are_set_aside_with_a_warning(
    collector: CollectorProcess, spool_dir: Path
) -> None:
    spool_dir.mkdir()
    bad = {
        "1-truncated.json": '{"server": "http://',
        "2-no-server.json": json.dumps(
            {"server": None, "start": {}, "finish": {}, "trace_headers": {}}
        ),
        "3-headers-list.json": json.dumps(
            {**asdict(spooled(collector.url, "never")), "trace_headers": ["x"]}
        ),
        "4-not-an-object.json": "[1, 2]",
    }
    for name, text in bad.items():
        (spool_dir / name).write_text(text)
    good = Spool(spool_dir).save(spooled(collector.url, "after-the-bad-ones"))
    done = run_exec(collector.url, "nightly", ["true"], spool_dir=spool_dir)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for name in bad:
        assert f"{name}" in done.stderr, (name, done.stderr)
        assert (spool_dir / name).with_suffix(".rejected").exists()
    assert not good.exists()
    assert "delivered 1 spooled report(s)" in done.stderr
    [late] = [
        r for r in runs_of(collector, "nightly") if r["client_run_id"] == "after-the-bad-ones"
    ]
    assert (late["status"], late["records_processed"]) == ("success", 4)
    assert not [r for r in runs_of(collector, "nightly") if r["client_run_id"] == "never"]


def test_two_execs_replaying_one_spool_deliver_each_run_once(
    collector: CollectorProcess, spool_dir: Path
) -> None:
    spool = Spool(spool_dir)
    ids = [f"replayed-twice-{n}" for n in range(12)]
    for client_run_id in ids:
        spool.save(spooled(collector.url, client_run_id, status="partial"))
    wrappers = [
        start_exec(collector.url, "nightly", ["true"], spool_dir=spool_dir) for _ in range(2)
    ]
    try:
        results = [wrapper.communicate(timeout=60) for wrapper in wrappers]
    finally:
        for wrapper in wrappers:
            wrapper.kill()
    for wrapper, (_, stderr) in zip(wrappers, results, strict=True):
        assert wrapper.returncode == 0, stderr
        assert "refused" not in stderr and "Traceback" not in stderr, stderr
    assert list(spool_dir.glob("*")) == []
    runs = [r for r in runs_of(collector, "nightly") if r["client_run_id"] in ids]
    assert sorted(r["client_run_id"] for r in runs) == sorted(ids)
    assert {r["status"] for r in runs} == {"partial"}
