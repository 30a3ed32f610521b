"""A scheduled run skipped because the previous one still runs counts as a missed run."""

import sys

from prometheus_client.parser import text_string_to_metric_families

from tests.support.process import CollectorProcess, wait_for

SLOW = [sys.executable, "-c", "import time; time.sleep(30)"]


def _missed(collector: CollectorProcess) -> float:
    text = collector.http.get("/metrics").text
    for family in text_string_to_metric_families(text):
        if family.name == "jobwatch_scheduler_missed_runs":
            return next(s.value for s in family.samples if s.labels["job"] == "slow")
    return 0.0


def test_a_skipped_scheduled_run_is_logged_and_counted(
    collector_process: type[CollectorProcess],
) -> None:
    collector = collector_process(
        {
            "jobs": [
                {
                    "name": "slow",
                    "kind": "command",
                    "command": SLOW,
                    "schedule": "every 1s",
                    "cancel_grace": "1s",
                }
            ]
        }
    ).start()

    def skipped() -> list[dict]:
        items = collector.api("GET", "/activity/recent", params={"job": "slow"}).json()["items"]
        return [i for i in items if i["message"].startswith("Skipped the scheduled run of slow")]

    entries = wait_for(skipped, timeout=20, what="a skipped scheduled run")
    assert entries[0]["status"] == "warning"
    assert wait_for(lambda: _missed(collector) >= 1, what="the missed-runs counter")
    runs = collector.api("GET", "/runs", params={"job": "slow"}).json()["items"]
    assert len(runs) == 1, "a skipped fire must not create a run"
