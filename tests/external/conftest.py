"""A real collector with external jobs, and ``jobwatch exec`` as a real subprocess."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.exporters.otlp_receiver import OtlpReceiver, otlp_receiver
from tests.support.process import CollectorProcess

TOKEN = "external-test-token"
CONFIG: dict[str, Any] = {
    "api_token": TOKEN,
    "jobs": [
        {"name": "nightly", "kind": "external", "stale_after": "2h", "source": "cron"},
        {
            "name": "with_params",
            "kind": "external",
            "schedule": "0 3 * * *",
            "params": {"full": {"type": "bool"}, "batch": {"type": "int", "min": 1}},
        },
        {"name": "short_lived", "kind": "external", "stale_after": "1h", "timeout": "1s"},
        {"name": "never_reports", "kind": "external", "stale_after": "30m"},
        {"name": "metered", "kind": "external", "stale_after": "1h"},
        {"name": "local_command", "kind": "command", "command": ["true"]},
    ],
}


@pytest.fixture(scope="package")
def traces() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="package")
def collector(
    tmp_path_factory: pytest.TempPathFactory, traces: OtlpReceiver
) -> Iterator[CollectorProcess]:
    """One collector for the tests that do not stop it (starting one costs a second or two)."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": traces.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    process = CollectorProcess(tmp_path_factory.mktemp("collector"), CONFIG, env=env).start()
    yield process
    process.close()


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own spool, for exec subprocesses and the in-process client alike."""
    directory = tmp_path / "spool"
    monkeypatch.setenv("JOBWATCH_SPOOL_DIR", str(directory))
    return directory


def start_exec(
    server: str,
    job: str,
    command: list[str],
    *,
    spool_dir: Path,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    stdin: int | None = None,
    new_session: bool = False,
) -> subprocess.Popen[str]:
    """``jobwatch exec`` as a user runs it, away from any jobwatch.yaml.

    ``new_session`` runs it as cron or a CI runner would, without a controlling terminal,
    whether or not the tests themselves run in one.
    """
    workdir = spool_dir.parent / "elsewhere"
    workdir.mkdir(exist_ok=True)
    argv = ["exec", job, "--server", server, "--token", TOKEN, *args, "--", *command]
    return subprocess.Popen(
        [sys.executable, "-m", "collector", *argv],
        cwd=workdir,
        env={**os.environ, "JOBWATCH_SPOOL_DIR": str(spool_dir), **(env or {})},
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


def run_exec(
    server: str,
    job: str,
    command: list[str],
    *,
    spool_dir: Path,
    args: tuple[str, ...] = (),
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    pipe = subprocess.PIPE if stdin is not None else subprocess.DEVNULL
    with start_exec(server, job, command, spool_dir=spool_dir, args=args, stdin=pipe) as process:
        stdout, stderr = process.communicate(stdin, timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def runs_of(collector: CollectorProcess, job: str) -> list[dict[str, Any]]:
    response = collector.api("GET", "/runs", params={"job": job, "limit": 100})
    response.raise_for_status()
    return response.json()["items"]
