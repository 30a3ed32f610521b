"""The CLI against a real collector: trigger --wait's exit code, jobs, status and activity.

Scripts and CI use ``jobwatch trigger --wait`` as a gate, so its exit code must
follow the run's outcome; the other commands must show what the API holds.
"""

from pathlib import Path

from tests.core.helpers import jobwatch, sync_job
from tests.support.process import CollectorProcess

PARAMS = {"batch_size": {"type": "int", "default": 100, "min": 1, "flag": "--batch-size"}}


def test_trigger_wait_jobs_status_and_activity(
    collector_process: type[CollectorProcess], tmp_path: Path
) -> None:
    collector = collector_process(
        {
            "jobs": [
                sync_job("contacts", "--total", "6", params=PARAMS),
                sync_job("broken", "--total", "2", "--exit", "3"),
                sync_job("never_run", "--total", "1", schedule="*/30 * * * *"),
            ]
        }
    ).start()
    server = ("--server", collector.url)

    ok = jobwatch("trigger", "contacts", "--param", "batch_size=2", "--wait", *server, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "ended success: 6 processed" in ok.stdout
    runs = collector.api("GET", "/runs", params={"job": "contacts"}).json()["items"]
    assert [run["params"] for run in runs] == [{"batch_size": 2}]
    assert runs[0]["status"] == "success"

    failed = jobwatch("trigger", "broken", "--wait", *server, cwd=tmp_path)
    assert failed.returncode != 0
    assert "ended failed" in failed.stdout
    assert "exit code 3: error: upstream answered 503" in failed.stdout

    bad = jobwatch("trigger", "contacts", "--param", "batch_size=0", *server, cwd=tmp_path)
    assert bad.returncode == 2
    assert "params.batch_size: must be at least 1" in bad.stderr
    assert len(collector.api("GET", "/runs", params={"job": "contacts"}).json()["items"]) == 1

    jobs = jobwatch("jobs", *server, cwd=tmp_path)
    assert jobs.returncode == 0, jobs.stderr
    for name in ("contacts", "broken", "never_run", "*/30 * * * *", "success", "failed"):
        assert name in jobs.stdout, (name, jobs.stdout)

    status = jobwatch("status", *server, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    for text in ("contacts", "broken", "never_run", "Recent activity", "ended failed"):
        assert text in status.stdout, (text, status.stdout)

    activity = jobwatch("activity", "--type", "job", "--status", "error", *server, cwd=tmp_path)
    assert activity.returncode == 0, activity.stderr
    lines = [line for line in activity.stdout.splitlines() if line.strip()]
    assert lines and all("[broken]" in line for line in lines), activity.stdout
    assert any("ended failed" in line for line in lines)

    down = jobwatch("jobs", "--server", "http://127.0.0.1:9", cwd=tmp_path)
    assert down.returncode == 1
    assert "cannot reach the collector" in down.stderr
    assert "Traceback" not in down.stderr
