"""``jobwatch activity --follow`` like ``tail -F``: outlives a restart, filters new entries."""

import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from tests.core.helpers import sync_job
from tests.core.test_cli_errors import cli_env
from tests.support.process import CollectorProcess


class Follower:
    """``jobwatch activity --follow …`` in a subprocess, its output collected line by line."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "collector", "activity", "--follow", *args],
            cwd=cwd,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self._ended = 0  # streams at end of file
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._ended += 1
            self._changed.notify_all()

    def wait_out(self, text: str) -> str:
        return self._wait(self.out, lambda line: text in line, f"stdout line with {text!r}")

    def wait_err(self, text: str) -> str:
        return self._wait(self.err, lambda line: text in line, f"stderr line with {text!r}")

    def _wait(self, lines: list[str], match: Callable[[str], bool], what: str) -> str:
        """The first line that matches, as soon as it is read; fails at once if output ends."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((line for line in lines if match(line)), None) or self._ended == 2,
                timeout=30,
            )
            line = next((line for line in lines if match(line)), None)
        assert line is not None, f"no {what} (ended: {found is True}): {self.out} {self.err}"
        return line

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=30)
        for reader in self._readers:
            reader.join(timeout=10)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_follow_reconnects_after_a_restart_and_loses_nothing(
    collector_process: type[CollectorProcess], tmp_path: Path
) -> None:
    collector = collector_process({"jobs": [sync_job("tick", "--total", "1")]}).start()
    follower = Follower("--server", collector.url, cwd=tmp_path)
    try:
        follower.wait_out("started with 1 job(s)")
        collector.stop()
        notice = follower.wait_err("lost the collector")
        assert f"at {collector.url}" in notice and "reconnecting" in notice
        collector.start()  # same port and database; logs "started" before the follower is back
        follower.wait_err(f"reconnected to {collector.url}")
        run = collector.api("POST", "/jobs/tick/runs", json={}).json()
        collector.wait_run(run["id"])
        follower.wait_out(f"Run #{run['id']} of tick ended success")
        assert follower.interrupt() == 0
    finally:
        follower.close()
    assert len(follower.out) == len(set(follower.out)), follower.out  # nothing printed twice
    assert sum("started with 1 job(s)" in line for line in follower.out) == 2, follower.out
    assert sum("jobwatch stopped" in line for line in follower.out) == 1, follower.out
    assert "Traceback" not in "\n".join(follower.err)


def test_follow_filters_what_arrives_live(
    collector_process: type[CollectorProcess], tmp_path: Path
) -> None:
    jobs = [sync_job("fine", "--total", "1"), sync_job("broken", "--total", "1", "--exit", "3")]
    collector = collector_process({"jobs": jobs}).start()

    def run(job: str) -> int:
        started = collector.api("POST", f"/jobs/{job}/runs", json={}).json()
        return collector.wait_run(started["id"])["id"]

    before = run("broken")
    filters = ("--type", "job", "--status", "error", "--job", "broken")
    follower = Follower(*filters, "--server", collector.url, cwd=tmp_path)
    try:
        follower.wait_out(f"Run #{before} of broken ended failed")  # the backlog: subscribed now
        run("fine")
        after = run("broken")
        follower.wait_out(f"Run #{after} of broken ended failed")
        assert follower.interrupt() == 0
    finally:
        follower.close()
    assert len(follower.out) == 2, follower.out
    assert all(" job " in line and " error " in line for line in follower.out), follower.out
    assert all("[broken]" in line for line in follower.out), follower.out
