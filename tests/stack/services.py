"""Real services on loopback for the end-to-end stack test: a recording HTTP receiver
standing in for Slack, Discord, Telegram and plain webhooks, and a subprocess wrapper
for Prometheus and Alertmanager.
"""

import json
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.support.process import wait_for


@dataclass(frozen=True)
class Received:
    """One POST the receiver got: its path, headers and body (parsed when JSON)."""

    path: str
    headers: dict[str, str]
    body: Any


def _answer(body: Any) -> dict[str, Any]:
    """Telegram's answer to ``sendMessage``: the message, with its chat. Alertmanager
    0.25 dereferences ``result.chat`` after a send; without it, it panics and exits."""
    try:
        chat_id = int(body.get("chat_id", 0)) if isinstance(body, dict) else 0
    except (TypeError, ValueError):
        chat_id = 0
    message = {"message_id": 1, "date": int(time.time()), "chat": {"id": chat_id, "type": "group"}}
    return {"ok": True, "result": message}


class LoopbackReceiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers GETs from ``pages``.

    Every POST gets HTTP 200 with what Telegram's ``sendMessage`` answers, which also
    suits Alertmanager's webhook and Slack integrations (any 2xx).
    """

    def __init__(self, pages: dict[str, str] | None = None) -> None:
        self.pages = pages or {}
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                text = raw.decode("utf-8", errors="replace")
                try:
                    body: Any = json.loads(text)
                except ValueError:
                    body = text
                receiver._record(Received(self.path, dict(self.headers.items()), body))
                self._send(200, json.dumps(_answer(body)), "application/json")

            def do_GET(self) -> None:
                page = receiver.pages.get(self.path)
                if page is None:
                    self._send(404, "not found", "text/plain")
                else:
                    self._send(200, page, "text/html; charset=utf-8")

            def _send(self, status: int, body: str, content_type: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def _record(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)

    def posts(self, path_prefix: str = "/") -> list[Received]:
        with self._lock:
            return [r for r in self._received if r.path.startswith(path_prefix)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class Service:
    """A server binary in a subprocess on a free loopback port, its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        log_path: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            list(argv), stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def wait_ready(self, path: str = "/-/ready", timeout: float = 30.0) -> "Service":
        def ready() -> bool:
            self.assert_running()
            try:
                return self.http.get(path).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, timeout=timeout, what=f"{self.name} ready on {self.url}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def assert_running(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited {self.process.returncode}:\n{self.log()}")

    def stop(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
