"""The HTTP API's guards and live feed: bearer token, loopback-only without one, and SSE."""

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.core.helpers import PYTHON, jobwatch, sync_job
from tests.support.process import CollectorProcess, free_port, wait_for

TOKEN = "s3cret-token"


def test_mutations_need_the_bearer_token_when_one_is_set(
    collector_process: type[CollectorProcess],
) -> None:
    collector = collector_process(
        {"api_token": TOKEN, "jobs": [sync_job("contacts", "--total", "1")]}
    ).start()
    anonymous = httpx.Client(base_url=f"{collector.url}/api/v1", timeout=10)
    wrong = httpx.Client(
        base_url=f"{collector.url}/api/v1", timeout=10, headers={"Authorization": "Bearer nope"}
    )
    try:
        for client in (anonymous, wrong):
            refused = client.post("/jobs/contacts/runs", json={})
            assert refused.status_code == 401, refused.text
            assert refused.headers["www-authenticate"] == "Bearer"
            assert client.patch("/config/dashboard", json={"retention_days": 1}).status_code == 401
            assert client.post("/runs/1/cancel").status_code == 401
        # Reads stay open, and nothing was started or changed by the refused calls.
        assert anonymous.get("/jobs").status_code == 200
        assert anonymous.get("/runs").json()["items"] == []
        assert anonymous.get("/config/dashboard").json()["retention_days"] == 7

        accepted = collector.api("POST", "/jobs/contacts/runs", json={})
        assert accepted.status_code == 202, accepted.text
        assert collector.wait_run(accepted.json()["id"])["status"] == "success"
        entries = collector.api("GET", "/activity/recent", params={"type": "user_action"}).json()[
            "items"
        ]
        assert [entry["user"] for entry in entries] == ["api"]
    finally:
        anonymous.close()
        wrong.close()


def test_listening_beyond_loopback_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "jobwatch.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": f"sqlite:///{tmp_path / 'jobwatch.db'}",
                "listen": f"0.0.0.0:{port}",
                "jobs": [],
            }
        )
    )
    refused = jobwatch("run", "--config", str(config), cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "refusing to listen on 0.0.0.0:" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    assert not (tmp_path / "jobwatch.db").exists(), "it must refuse before touching the database"

    # The same file with a token from the environment starts (so the refusal was the token's).
    with (tmp_path / "collector.log").open("wb") as log:
        process = subprocess.Popen(
            [PYTHON, "-m", "collector", "run", "--config", str(config)],
            cwd=tmp_path,
            env={**os.environ, "JOBWATCH_API_TOKEN": TOKEN},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def healthy() -> bool:
            assert process.poll() is None, (tmp_path / "collector.log").read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, what="the collector with a token on 0.0.0.0")
    finally:
        process.kill()
        process.wait()


def _sse_events(response: httpx.Response, deadline: float) -> Any:
    """Yield ``(type, payload)`` per SSE frame; the read timeout bounds every wait."""
    event_type: str | None = None
    for line in response.iter_lines():
        if time.monotonic() > deadline:
            raise AssertionError("SSE deadline passed")
        if line == ": connected":
            yield "connected", None
        elif line.startswith("event: "):
            event_type = line.removeprefix("event: ")
        elif line.startswith("data: "):
            payload = json.loads(line.removeprefix("data: "))
            assert payload["type"] == event_type
            assert payload["timestamp"]
            yield event_type, payload["data"]


def test_events_stream_delivers_activity_and_run_changes(
    collector_process: type[CollectorProcess],
) -> None:
    collector = collector_process(
        {"jobs": [sync_job("contacts", "--total", "3", "--batch-size", "1")]}
    ).start()
    statuses: list[str] = []
    activity: list[str] = []
    run_id: int | None = None
    with (
        httpx.Client(base_url=collector.url, timeout=httpx.Timeout(10, read=5)) as client,
        client.stream("GET", "/api/v1/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for kind, data in _sse_events(response, deadline=time.monotonic() + 20):
            if kind == "connected":
                # Subscribed: anything from now on must arrive on this stream.
                run_id = collector.api("POST", "/jobs/contacts/runs", json={}).json()["id"]
            elif kind == "run" and data["id"] == run_id:
                if not statuses or statuses[-1] != data["status"]:
                    statuses.append(data["status"])
            elif kind == "activity" and data["run_id"] == run_id:
                activity.append(data["message"])
                assert set(data) >= {"id", "timestamp", "type", "status", "job", "run_id"}
            if statuses[-1:] == ["success"] and any("ended success" in text for text in activity):
                break
    assert statuses == ["queued", "running", "success"]
    assert activity[0] == f"Run #{run_id} of contacts started (api)"
    assert activity[-1].startswith(f"Run #{run_id} of contacts ended success")
    assert collector.api("GET", f"/runs/{run_id}").json()["records_processed"] == 3
