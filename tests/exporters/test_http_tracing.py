"""API request spans, recorded by a provider of the test's own (no global state)."""

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from exporters.http_tracing import instrument_app

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def recorded() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def client(recorded: InMemorySpanExporter) -> TestClient:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(recorded))
    app = FastAPI()

    @app.get("/api/v1/runs/{run_id}")
    def get_run(run_id: int) -> dict[str, int]:
        if run_id == 404:
            raise HTTPException(404, "no such run")
        return {"id": run_id}

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    @app.get("/metrics")
    def metrics() -> str:
        return "scraped"

    instrument_app(app, tracer_provider=provider)
    return TestClient(app, raise_server_exceptions=False)


def only_span(recorded: InMemorySpanExporter) -> ReadableSpan:
    (span,) = recorded.get_finished_spans()
    return span


def test_a_request_span_is_named_after_the_route_template(
    client: TestClient, recorded: InMemorySpanExporter
) -> None:
    assert client.get("/api/v1/runs/42").status_code == 200
    span = only_span(recorded)
    assert span.name == "GET /api/v1/runs/{run_id}"
    assert span.kind == SpanKind.SERVER
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "url.path": "/api/v1/runs/42",
        "http.route": "/api/v1/runs/{run_id}",
        "http.response.status_code": 200,
    }
    assert span.status.status_code == StatusCode.UNSET
    assert span.parent is None


def test_a_caller_traceparent_continues_its_trace(
    client: TestClient, recorded: InMemorySpanExporter
) -> None:
    client.get("/api/v1/runs/1", headers={"traceparent": TRACEPARENT})
    span = only_span(recorded)
    assert format(span.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.parent is not None and format(span.parent.span_id, "016x") == "00f067aa0ba902b7"


def test_client_errors_are_not_span_errors_but_server_errors_are(
    client: TestClient, recorded: InMemorySpanExporter
) -> None:
    assert client.get("/api/v1/runs/404").status_code == 404
    span = only_span(recorded)
    assert span.attributes["http.response.status_code"] == 404
    assert span.status.status_code == StatusCode.UNSET
    recorded.clear()
    assert client.get("/api/v1/boom").status_code == 500
    span = only_span(recorded)
    assert span.name == "GET /api/v1/boom"
    assert span.status.status_code == StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]


def test_scrapes_and_unknown_paths(client: TestClient, recorded: InMemorySpanExporter) -> None:
    client.get("/metrics")
    assert recorded.get_finished_spans() == ()
    assert client.get("/nowhere").status_code == 404
    span = only_span(recorded)
    assert span.name == "GET"
    assert "http.route" not in (span.attributes or {})
