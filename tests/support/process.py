"""A real ``jobwatch run`` in a subprocess, on a free loopback port, for end-to-end tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    condition: Callable[[], T],
    *,
    timeout: float = 15.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll until ``condition()`` is truthy; fail with ``what`` when the deadline passes."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
        except Exception as exc:
            last_error = exc
        else:
            if result:
                return result
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what} (last error: {last_error!r})"
    )


class CollectorProcess:
    """Writes a config, starts the collector, and talks to it over HTTP."""

    def __init__(
        self, tmp_path: Path, config: dict[str, Any], *, env: dict[str, str] | None = None
    ) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        config = {"database_url": f"sqlite:///{tmp_path / 'jobwatch.db'}", **config}
        config["listen"] = f"127.0.0.1:{self.port}"
        self.config = config
        self.config_path = tmp_path / "jobwatch.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = tmp_path / "collector.log"
        self.url = f"http://127.0.0.1:{self.port}"
        token = config.get("api_token")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, timeout=10, headers=headers)

    def start(self, *, ready_timeout: float = 30.0) -> "CollectorProcess":
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "collector", "run", "--config", str(self.config_path)],
            cwd=self.tmp_path,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self._ready, timeout=ready_timeout, what=f"collector ready on {self.url}")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"collector exited {self.process.returncode}:\n{self.log()}")
        try:
            return self.http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, f"/api/v1{path}", **kwargs)

    def wait_run(
        self, run_id: int, *, statuses: tuple[str, ...] | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        """The run once it reaches one of ``statuses`` (default: any final status)."""
        final = statuses or ("success", "partial", "failed", "cancelled", "timed_out", "abandoned")

        def reached() -> dict[str, Any] | None:
            run = self.api("GET", f"/runs/{run_id}").json()
            return run if run["status"] in final else None

        return wait_for(reached, timeout=timeout, what=f"run {run_id} to reach {final}")

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.http.close()
