"""``GET /metrics`` through the real router: content negotiation and gzip."""

import gzip
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from exporters.endpoint import router
from exporters.metrics import JobwatchMetrics
from tests.exporters.helpers import TRACE_ID, play_run, samples, value

# What Prometheus 2.x sends when scraping.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.fixture
def client(metrics: JobwatchMetrics) -> TestClient:
    play_run(metrics, 1, "crm", "success", duration=42.0)
    app = FastAPI()
    app.state.collector = SimpleNamespace(metrics=metrics)
    app.include_router(router)
    return TestClient(app)


def test_text_format_by_default(client: TestClient) -> None:
    response = client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "content-encoding" not in response.headers
    assert not response.content.endswith(b"# EOF\n")
    assert value(response.content, "jobwatch_job_runs_total", job="crm", status="success") == 1


@pytest.mark.parametrize("accept", [PROMETHEUS_ACCEPT, "application/openmetrics-text"])
def test_openmetrics_when_the_client_prefers_it(client: TestClient, accept: str) -> None:
    response = client.get("/metrics", headers={"Accept": accept, "Accept-Encoding": "identity"})
    assert response.headers["content-type"].startswith(
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    )
    assert response.content.endswith(b"# EOF\n")
    assert f'# {{trace_id="{TRACE_ID}"}} 42.0'.encode() in response.content


def test_gzip_when_asked(client: TestClient) -> None:
    plain = client.get("/metrics", headers={"Accept-Encoding": "identity"}).content
    with client.stream("GET", "/metrics", headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["vary"]
        raw = b"".join(response.iter_raw())
    assert len(raw) < len(plain) / 5
    assert samples(gzip.decompress(raw)) == samples(plain)
