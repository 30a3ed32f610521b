"""What ``jobs``, ``status`` and ``activity`` print into a pipe, and on a terminal with NO_COLOR."""

import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.helpers import sync_job
from tests.core.test_cli_errors import cli, cli_env
from tests.support.process import CollectorProcess

LONG_NAME = "crm_contacts_full_resync_with_every_custom_property_and_owner"  # 61 characters
ANSI = re.compile(r"\x1b\[")
COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-7](;[0-9;]*)?m")  # a foreground colour, e.g. green


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    config = {
        "jobs": [
            sync_job(LONG_NAME, "--total", "2", schedule="*/30 * * * *"),
            sync_job("broken", "--total", "1", "--exit", "3"),
        ]
    }
    process = CollectorProcess(tmp_path_factory.mktemp("collector"), config).start()
    for job in (LONG_NAME, "broken"):
        run = process.api("POST", f"/jobs/{job}/runs", json={}).json()
        process.wait_run(run["id"])
    yield process
    process.close()


def test_piped_tables_keep_whole_job_names_and_no_escape_codes(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    for command in ("jobs", "status"):
        done = cli(command, "--server", collector.url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert not ANSI.search(done.stdout), done.stdout
        assert LONG_NAME in done.stdout, done.stdout
        assert "*/30 * * * *" in done.stdout, done.stdout
        row = next(line for line in done.stdout.splitlines() if LONG_NAME in line)
        assert "success" in row and "command" in row, row  # one row, not wrapped cells


def test_piped_activity_and_results_are_whole_lines(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    server = ("--server", collector.url)
    activity = cli("activity", "--job", LONG_NAME, *server, cwd=tmp_path)
    assert activity.returncode == 0, activity.stderr
    assert not ANSI.search(activity.stdout)
    ended = [line for line in activity.stdout.splitlines() if "ended success" in line]
    assert len(ended) == 1 and ended[0].endswith("1 updated, 0 failed"), activity.stdout
    waited = cli("trigger", LONG_NAME, "--wait", *server, cwd=tmp_path)
    assert waited.returncode == 0, waited.stderr
    ended_line = (
        rf"^run #\d+ of {LONG_NAME} ended success: 2 processed, 1 created, 1 updated, 0 failed$"
    )
    assert re.search(ended_line, waited.stdout, re.M), waited.stdout


def on_a_terminal(*args: str, cwd: Path, env: dict[str, str]) -> str:
    """What ``jobwatch ARGS`` writes to stdout when stdout is a terminal."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "collector", *args],
            cwd=cwd,
            env={**env, "TERM": "xterm-256color"},
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=60,
            check=True,
        )
        assert done.returncode == 0
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal has no writer left
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)


def test_no_color_is_honoured_on_a_terminal(collector: CollectorProcess, tmp_path: Path) -> None:
    args = ("activity", "--job", "broken", "--server", collector.url)
    coloured = on_a_terminal(*args, cwd=tmp_path, env=cli_env())
    assert COLOUR.search(coloured), coloured  # the check can see colour when there is some
    plain = on_a_terminal(*args, cwd=tmp_path, env=cli_env(NO_COLOR="1"))
    assert "ended failed" in plain
    assert not COLOUR.search(plain), plain


def test_no_jobs_says_so(tmp_path: Path) -> None:
    empty = CollectorProcess(tmp_path, {"jobs": []}).start()
    try:
        for command in ("jobs", "status"):
            done = cli(command, "--server", empty.url, cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            assert "no jobs configured" in done.stdout, done.stdout
    finally:
        empty.close()
