"""``jobwatch trigger --wait`` as a gate: Ctrl-C, cancelled and partial runs, empty counts."""

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import sync_job
from tests.core.test_cli_errors import cli, cli_env, run_all
from tests.support.process import CollectorProcess, wait_for


@pytest.fixture(scope="module")
def holds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("holds")


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory, holds: Path) -> Iterator[CollectorProcess]:
    held = ("--total", "4", "--batch-size", "2", "--hold")
    config = {
        "jobs": [
            sync_job("held_interrupted", *held, str(holds / "interrupted")),
            sync_job("held_cancelled", *held, str(holds / "cancelled")),
            sync_job("some_failed", "--total", "3", "--failed", "1"),
            sync_job("nothing_to_do", "--total", "0"),
            sync_job(
                "noted", "--total", "0", params={"note": {"type": "str", "flag": "--start-date"}}
            ),
        ]
    }
    process = CollectorProcess(tmp_path_factory.mktemp("collector"), config).start()
    yield process
    process.close()


def start_waiting(collector: CollectorProcess, job: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "collector", "trigger", job, "--wait", "--server", collector.url],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def started_run(collector: CollectorProcess, waiting: subprocess.Popen[str]) -> dict[str, Any]:
    """The run the command started, once it has reported its first batch."""
    assert waiting.stderr is not None
    first = waiting.stderr.readline()  # "run #N of JOB queued", printed once the POST answered
    run_id = int(first.split()[1].lstrip("#"))
    return wait_for(
        lambda: (
            (run := collector.api("GET", f"/runs/{run_id}").json())["records_processed"] and run
        ),
        what=f"run {run_id} to report its first batch",
    )


def test_ctrl_c_stops_waiting_and_the_run_goes_on(
    collector: CollectorProcess, holds: Path, tmp_path: Path
) -> None:
    waiting = start_waiting(collector, "held_interrupted", tmp_path)
    try:
        run = started_run(collector, waiting)
        waiting.send_signal(signal.SIGINT)
        _, stderr = waiting.communicate(timeout=30)
    finally:
        waiting.kill()
    assert waiting.returncode == 130, stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert f"run #{run['id']} of held_interrupted goes on" in stderr
    assert "jobwatch activity --follow --job held_interrupted" in stderr
    assert collector.api("GET", f"/runs/{run['id']}").json()["status"] == "running"
    (holds / "interrupted").touch()
    assert collector.wait_run(run["id"])["status"] == "success"


def test_a_cancelled_run_ends_the_wait_non_zero_with_its_status(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    waiting = start_waiting(collector, "held_cancelled", tmp_path)
    try:
        run = started_run(collector, waiting)
        assert collector.api("POST", f"/runs/{run['id']}/cancel").status_code == 202
        stdout, stderr = waiting.communicate(timeout=30)
    finally:
        waiting.kill()
    assert waiting.returncode == 1, stderr
    assert f"run #{run['id']} of held_cancelled ended cancelled: 2 processed" in stdout


def test_partial_exits_3_as_the_help_says_and_zero_counts_succeed(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    server = ("--server", collector.url)
    results = run_all(
        {
            "partial": ("trigger", "some_failed", "--wait", *server),
            "empty": ("trigger", "nothing_to_do", "--wait", *server),
            "help": ("trigger", "--help"),
        },
        tmp_path,
        envs={"help": cli_env(COLUMNS="200")},
    )
    partial, empty, helped = results["partial"], results["empty"], results["help"]
    assert partial.returncode == 3, partial.stderr
    assert "ended partial: 3 processed, 1 created, 2 updated, 1 failed" in partial.stdout
    assert empty.returncode == 0, empty.stderr
    assert "ended success: 0 processed, 0 created, 0 updated, 0 failed" in empty.stdout
    assert "Traceback" not in empty.stderr
    assert "3 partial" in helped.stdout and "130" in helped.stdout, helped.stdout


def test_without_wait_stdout_is_the_run_as_json(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    note = "[bold]kept as typed[/bold] " + "x" * 150  # markup-like, and wider than a console
    done = cli("trigger", "noted", "-p", f"note={note}", "--server", collector.url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert (run["job"], run["status"], run["params"]) == ("noted", "queued", {"note": note})
    collector.wait_run(run["id"])
