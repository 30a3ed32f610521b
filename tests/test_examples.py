"""The bundled example, as ``make run`` starts it, works offline and shows every outcome."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.process import REPO, free_port, wait_for

EXAMPLE = REPO / "examples" / "jobwatch.yaml"
FINAL = ("success", "partial", "failed", "cancelled", "timed_out", "abandoned")


def test_the_example_config_is_valid() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "collector", "check-config", "--config", str(EXAMPLE)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "OK: 5 job(s), 5 scheduled" in result.stdout


@pytest.fixture
def example_collector(tmp_path: Path) -> Iterator[httpx.Client]:
    """``jobwatch run --config examples/jobwatch.yaml`` from the repo root, as ``make run`` does,
    with only the database file and the port moved so the test touches nothing of the user's."""
    port = free_port()
    env = {
        **os.environ,
        "JOBWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'example.db'}",
        "JOBWATCH_LISTEN": f"127.0.0.1:{port}",
    }
    log = (tmp_path / "collector.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "collector", "run", "--config", str(EXAMPLE)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=10)

    def ready() -> bool:
        assert process.poll() is None, (tmp_path / "collector.log").read_text()
        try:
            return client.get("/jobs").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, timeout=30, what="the example collector")
        yield client
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        client.close()
        log.close()


def test_every_example_job_runs_offline(example_collector: httpx.Client) -> None:
    triggers = {
        "crm_contacts": {"batch_size": 250},
        "playlist": {"size": 5},
        "events": {},
        "feed_refresh": {},
        "slow_export": {"steps": 1},
    }
    run_ids = {}
    for job, params in triggers.items():
        response = example_collector.post(f"/jobs/{job}/runs", json={"params": params})
        assert response.status_code == 202, response.text
        run_ids[job] = response.json()["id"]

    def finished(run_id: int) -> dict | None:
        run = example_collector.get(f"/runs/{run_id}").json()
        return run if run["status"] in FINAL else None

    runs = {
        job: wait_for(lambda r=run_id: finished(r), timeout=60) for job, run_id in run_ids.items()
    }
    assert runs["crm_contacts"]["status"] in ("success", "partial")
    assert runs["crm_contacts"]["records_processed"] == 500
    assert runs["playlist"]["records_processed"] == 5
    assert runs["events"]["status"] == "success", runs["events"]["error"]
    assert runs["events"]["result"]["extracted"] == {"events": 4, "emails": 4}
    assert runs["feed_refresh"]["status"] in ("success", "failed")
    assert runs["slow_export"]["status"] == "success"
    assert runs["slow_export"]["records_processed"] == 1
