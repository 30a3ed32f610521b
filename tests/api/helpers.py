"""Small helpers for the API input tests."""

import base64
import re
from typing import Any

import httpx

from tests.support.process import CollectorProcess, wait_for

_DROPPED = re.compile(r'^jobwatch_activity_dropped_total\{reason="write_error"\} (\S+)$', re.M)


def raw(collector: CollectorProcess, method: str, path: str, body: bytes) -> httpx.Response:
    """Send ``body`` as it is: JSON that ``json=`` cannot produce (NaN, lone surrogates)."""
    return collector.api(method, path, content=body, headers={"content-type": "application/json"})


def problems(response: httpx.Response) -> dict[tuple[Any, ...], str]:
    """A 422's ``{loc: msg}``; the body must be JSON in FastAPI's shape whatever was sent."""
    assert response.status_code == 422, (response.status_code, response.text)
    return {tuple(item["loc"]): item["msg"] for item in response.json()["detail"]}


def cursor_of(text: str) -> str:
    """A cursor in the store's encoding, holding whatever ``text`` says."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def runs_of(collector: CollectorProcess, job: str) -> list[dict[str, Any]]:
    response = collector.api("GET", "/runs", params={"job": job, "limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def activity(collector: CollectorProcess, **params: Any) -> list[dict[str, Any]]:
    response = collector.api("GET", "/activity/recent", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def dropped_by_write_errors(collector: CollectorProcess) -> float:
    text = collector.http.get("/metrics").text
    match = _DROPPED.search(text)
    assert match, "jobwatch_activity_dropped_total{reason=write_error} is missing"
    return float(match.group(1))


def start_external(collector: CollectorProcess, **body: Any) -> dict[str, Any]:
    response = collector.api("POST", "/runs", json={"job": "ext", **body})
    assert response.status_code == 201, response.text
    return response.json()


def wait_for_activity(collector: CollectorProcess, what: str, **params: Any) -> list[dict]:
    """Entries matching ``params`` once at least one exists (the log is written async)."""
    return wait_for(lambda: activity(collector, **params), what=what)
