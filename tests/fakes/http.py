"""A real HTTP server on loopback whose behaviour a test switches while it runs.

Every fake service (acexy, the AceStream engine, cdn-cgi/trace) is one of these with
its own answers. The shared behaviours are the ways a real service fails: ``down``
(nothing listens on the port: connection refused), ``error`` (HTTP 500), ``garbage``
(HTTP 200 with an HTML page) and ``hang`` (accepts, reads the request, never answers).
"""

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GARBAGE = "<html><body>502 Bad Gateway</body></html>"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str = ""
    content_type: str = "application/json"


class FakeHttpServer:
    """Subclasses map a behaviour name to replies per path in ``replies``."""

    behaviours: tuple[str, ...] = ("down", "error", "garbage", "hang")

    def __init__(self, behaviour: str, **options: Any) -> None:
        self.requests: list[str] = []
        self.behaviour = behaviour
        self.hanging = threading.Event()
        """Set while a request is held by the ``hang`` behaviour."""
        self._routes: dict[str, Reply] = {}
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self._listen()  # even a service that starts "down" needs a port of its own
        self.set(behaviour, **options)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def replies(self, behaviour: str, **options: Any) -> dict[str, Reply]:
        """The answers of a service-specific behaviour, by path (with its query, if any)."""
        raise ValueError(f"{type(self).__name__} has no behaviour {behaviour!r}")

    def set(self, behaviour: str, **options: Any) -> None:
        """Switch to ``behaviour``; ``down`` closes the port, anything else reopens it."""
        if behaviour not in self.behaviours:
            raise ValueError(f"unknown behaviour {behaviour!r}; choose from {self.behaviours}")
        self._release.set()
        self._release = threading.Event()
        self.hanging.clear()
        self.behaviour = behaviour
        if behaviour == "down":
            self._close()
            return
        if behaviour not in ("error", "garbage", "hang"):
            self._routes = self.replies(behaviour, **options)
        if self._server is None:
            self._listen()

    def close(self) -> None:
        self._release.set()
        self._close()

    def _reply(self, path: str) -> Reply | None:
        """None means hang."""
        self.requests.append(path)
        if self.behaviour == "hang":
            return None
        if self.behaviour == "error":
            return Reply(500, '{"detail": "internal error"}')
        if self.behaviour == "garbage":
            return Reply(200, GARBAGE, "text/html")
        bare = path.split("?", 1)[0]
        return (
            self._routes.get(path)
            or self._routes.get(bare)
            or Reply(404, "not found", "text/plain")
        )

    def _listen(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                reply = fake._reply(self.path)
                if reply is None:
                    release = fake._release
                    fake.hanging.set()
                    release.wait()
                    return
                body = reply.body.encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        # Reopen on the same port, so a service that comes back keeps its URL.
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
