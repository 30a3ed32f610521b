"""A SERVER span per API request, named after the route template, not the raw path.

Twenty lines of ASGI middleware instead of the opentelemetry-instrumentation packages:
we need one span with method, route and status, and W3C ``traceparent`` from the
caller (``jobwatch trigger`` or a CI job) so its trace continues into the API. Scrapes
and health checks are left out: they would bury every interesting trace in noise.
"""

from collections.abc import Iterable

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNTRACED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


class TracingMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        tracer_provider: TracerProvider | None = None,
        untraced_paths: Iterable[str] = UNTRACED_PATHS,
    ) -> None:
        self.app = app
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self._untraced = frozenset(untraced_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self._untraced:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status_code: int | None = None

        async def send_and_note_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        with self._tracer.start_as_current_span(
            method,
            context=extract(carrier),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as span:
            try:
                await self.app(scope, receive, send_and_note_status)
            finally:
                route = getattr(scope.get("route"), "path_format", None)
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                if status_code is not None:
                    span.set_attribute("http.response.status_code", status_code)
                    if status_code >= 500:
                        span.set_status(Status(StatusCode.ERROR))


def instrument_app(app: FastAPI, tracer_provider: TracerProvider | None = None) -> None:
    """Trace every request of ``app``; call before the app starts serving."""
    app.add_middleware(TracingMiddleware, tracer_provider=tracer_provider)
