"""Metrics and traces of a real ``jobwatch run`` process, scraped over HTTP.

One collector runs a handful of command jobs once (module fixture); the tests then
check what ``/metrics`` and an OTLP/HTTP receiver on loopback got, against what the
API says about the same runs. Restart and a real Prometheus get their own processes.
"""

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as ProtoStatus
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)

from collector import __version__
from exporters.labels import FINAL_STATUSES
from tests.core.helpers import PYTHON, sync_job
from tests.exporters.helpers import samples, value
from tests.exporters.otlp_receiver import OtlpReceiver, otlp_receiver
from tests.support.binaries import require_binary
from tests.support.process import CollectorProcess, free_port, wait_for

OPENMETRICS = "application/openmetrics-text;version=1.0.0"
PRINT_TRACEPARENT = "import os; print('traceparent=' + os.environ.get('TRACEPARENT', ''))"
JOBS = [
    sync_job("contacts", "--total", "20", source="hubspot", stale_after="2h"),
    sync_job("orders", "--total", "10", "--failed", "2"),
    sync_job("broken", "--total", "5", "--exit", "3"),
    {"name": "traced", "kind": "command", "command": [PYTHON, "-c", PRINT_TRACEPARENT]},
    {
        "name": "nightly",
        "kind": "command",
        "command": [PYTHON, "-c", "pass"],
        "schedule": "0 3 * * *",
    },
]
# Each runs once, in this order; then contacts once more as a dry run.
TRIGGERED = ["contacts", "orders", "broken", "traced"]


def clean_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}, **extra}


def timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def scrape(collector: CollectorProcess, accept: str | None = None) -> bytes:
    headers = {"Accept": accept} if accept else {}
    response = collector.http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return response.content


def trigger(collector: CollectorProcess, job: str, **body: Any) -> dict[str, Any]:
    response = collector.api("POST", f"/jobs/{job}/runs", json={"params": {}, **body})
    assert response.status_code == 202, response.text
    return collector.wait_run(response.json()["id"])


@dataclass
class Stack:
    collector: CollectorProcess
    receiver: OtlpReceiver
    runs: dict[str, dict[str, Any]]
    dry_run: dict[str, Any]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with otlp_receiver() as receiver:
        collector = CollectorProcess(
            tmp_path_factory.mktemp("e2e"),
            {"jobs": JOBS},
            env=clean_env(
                OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="100"
            ),
        )
        try:
            collector.start()
            runs = {job: trigger(collector, job) for job in TRIGGERED}
            dry_run = trigger(collector, "contacts", dry_run=True)
            yield Stack(collector, receiver, runs, dry_run)
        finally:
            collector.close()


def test_runs_give_exact_counter_and_gauge_values(stack: Stack) -> None:
    runs = stack.runs
    assert [runs[job]["status"] for job in TRIGGERED] == ["success", "partial", "failed", "success"]
    parsed = samples(scrape(stack.collector))
    for job, run in runs.items():
        for status in FINAL_STATUSES:
            expected = 1 if status == run["status"] else 0
            assert value(parsed, "jobwatch_job_runs_total", job=job, status=status) == expected
        for outcome in ("processed", "created", "updated", "failed"):
            got = value(parsed, "jobwatch_job_records_total", job=job, outcome=outcome)
            assert got == run[f"records_{outcome}"], (job, outcome)
        assert value(parsed, "jobwatch_job_runs_in_progress", job=job) == 0
        assert value(parsed, "jobwatch_job_runs_queued", job=job) == 0
        if job != "contacts":  # contacts' last run is the dry run, checked below
            last_run = value(parsed, "jobwatch_job_last_run_timestamp_seconds", job=job)
            assert last_run == timestamp(run["finished_at"])
            duration = value(parsed, "jobwatch_job_last_run_duration_seconds", job=job)
            assert duration == run["duration_seconds"]
            assert value(parsed, "jobwatch_job_run_duration_seconds_sum", job=job) == duration
    assert value(parsed, "jobwatch_job_records_total", job="contacts", outcome="processed") == 20
    assert value(parsed, "jobwatch_job_records_total", job="orders", outcome="failed") == 2
    success = "jobwatch_job_last_success_timestamp_seconds"
    assert value(parsed, success, job="contacts") == timestamp(runs["contacts"]["finished_at"])
    assert value(parsed, success, job="traced") == timestamp(runs["traced"]["finished_at"])
    for job in ("orders", "broken", "nightly"):
        assert value(parsed, success, job=job) is None
    assert value(parsed, "jobwatch_job_runs_total", job="nightly", status="success") == 0
    assert value(parsed, "jobwatch_build_info", version=__version__) == 1


def test_a_dry_run_is_a_run_but_not_a_success(stack: Stack) -> None:
    parsed = samples(scrape(stack.collector))
    dry = stack.dry_run
    assert dry["status"] == "success" and dry["dry_run"] is True
    assert value(parsed, "jobwatch_job_runs_total", job="contacts", status="success") == 1
    assert value(parsed, "jobwatch_job_last_success_timestamp_seconds", job="contacts") == (
        timestamp(stack.runs["contacts"]["finished_at"])
    )
    last_run = value(parsed, "jobwatch_job_last_run_timestamp_seconds", job="contacts")
    assert last_run == timestamp(dry["finished_at"])
    assert value(parsed, "jobwatch_job_run_duration_seconds_count", job="contacts") == 2


def test_config_derived_series(stack: Stack) -> None:
    parsed = samples(scrape(stack.collector))
    nightly = stack.collector.api("GET", "/jobs/nightly").json()
    upcoming = value(parsed, "jobwatch_job_next_run_timestamp_seconds", job="nightly")
    assert upcoming == timestamp(nightly["next_run"])
    assert value(parsed, "jobwatch_job_next_run_timestamp_seconds", job="contacts") is None
    stale = "jobwatch_job_stale_after_seconds"
    assert value(parsed, stale, job="contacts") == 7200
    assert value(parsed, stale, job="nightly") == 2 * 86400 + 60
    assert value(parsed, stale, job="broken") is None
    info = {"job": "contacts", "kind": "command", "source": "hubspot", "schedule": ""}
    assert value(parsed, "jobwatch_job_info", **info) == 1
    nightly_info = {"job": "nightly", "kind": "command", "source": "", "schedule": "0 3 * * *"}
    assert value(parsed, "jobwatch_job_info", **nightly_info) == 1


def test_activity_counters_match_the_activity_log(stack: Stack) -> None:
    def counts_match() -> bool:
        entries = stack.collector.api(
            "GET", "/activity/recent", params={"type": "job", "days": 0, "limit": 1000}
        ).json()["items"]
        parsed = samples(scrape(stack.collector))
        for status in ("info", "success", "warning", "error"):
            logged = sum(1 for entry in entries if entry["status"] == status)
            metric = value(parsed, "jobwatch_activity_events_total", type="job", status=status)
            if metric != logged:
                return False
        return True

    wait_for(counts_match, what="activity counters equal to the activity log")
    parsed = samples(scrape(stack.collector))
    assert value(parsed, "jobwatch_activity_events_total", type="job", status="error") == 1
    assert value(parsed, "jobwatch_activity_dropped_total", reason="queue_full") == 0
    assert value(parsed, "jobwatch_activity_queue_size") is not None


def test_promtool_accepts_the_live_output(stack: Stack) -> None:
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=scrape(stack.collector),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


def test_openmetrics_scrape_shows_trace_id_exemplars(stack: Stack) -> None:
    body = scrape(stack.collector, OPENMETRICS).decode()
    assert body.endswith("# EOF\n")
    exemplars = {
        sample.labels["job"]: sample.exemplar
        for family in parse_openmetrics(body)
        for sample in family.samples
        if sample.exemplar is not None
    }
    for job in ("orders", "broken", "traced"):
        run = stack.runs[job]
        assert exemplars[job].labels == {"trace_id": run["trace_id"]}
        assert exemplars[job].value == run["duration_seconds"]


def test_the_run_span_reaches_the_otlp_receiver_with_its_children(stack: Stack) -> None:
    run = stack.runs["contacts"]
    root = stack.receiver.wait_for("jobwatch.run contacts")
    assert root.trace_id == run["trace_id"]
    assert root.parent_span_id == ""
    assert root.resource["service.name"] == "jobwatch"
    assert root.attributes["jobwatch.job"] == "contacts"
    assert root.attributes["jobwatch.run_id"] == run["id"]
    assert root.attributes["jobwatch.status"] == "success"
    assert root.attributes["jobwatch.records.processed"] == 20
    for name in ("subprocess", "db.write run"):
        child = stack.receiver.wait_for(name, trace_id=root.trace_id)
        assert child.parent_span_id == root.span_id
    broken_trace = stack.runs["broken"]["trace_id"]
    broken = stack.receiver.wait_for("jobwatch.run broken", trace_id=broken_trace)
    assert broken.status_code == ProtoStatus.STATUS_CODE_ERROR


def test_api_requests_are_traced(stack: Stack) -> None:
    span = stack.receiver.wait_for("POST /api/v1/jobs/{name}/runs")
    assert span.kind == ProtoSpan.SPAN_KIND_SERVER
    assert span.attributes["http.route"] == "/api/v1/jobs/{name}/runs"
    assert span.attributes["http.response.status_code"] == 202


def test_a_command_job_sees_a_traceparent_of_its_run(stack: Stack) -> None:
    run = stack.runs["traced"]
    line = next(x for x in run["log_tail"].splitlines() if x.startswith("traceparent="))
    version, trace_id, parent_id, flags = line.removeprefix("traceparent=").split("-")
    assert version == "00"
    assert int(flags, 16) & 0x01, "the sampled flag must be set"
    assert trace_id == run["trace_id"]
    subprocess_span = stack.receiver.wait_for("subprocess", trace_id=trace_id)
    assert parent_id == subprocess_span.span_id


def test_a_restart_keeps_last_success(
    collector_process: type[CollectorProcess],
) -> None:
    config = {"jobs": [sync_job("contacts", "--total", "3")]}
    first = collector_process(config, env=clean_env()).start()
    run = trigger(first, "contacts")
    before = samples(scrape(first))
    assert first.stop() == 0
    second = collector_process(config, env=clean_env()).start()
    after = samples(scrape(second))
    for name in (
        "jobwatch_job_last_success_timestamp_seconds",
        "jobwatch_job_last_run_timestamp_seconds",
        "jobwatch_job_last_run_duration_seconds",
    ):
        assert value(after, name, job="contacts") == value(before, name, job="contacts")
    assert value(after, "jobwatch_job_last_success_timestamp_seconds", job="contacts") == (
        timestamp(run["finished_at"])
    )
    # Counters restart from 0, as Prometheus expects.
    assert value(before, "jobwatch_job_runs_total", job="contacts", status="success") == 1
    assert value(after, "jobwatch_job_runs_total", job="contacts", status="success") == 0


def test_a_real_prometheus_scrapes_and_answers_promql(stack: Stack, tmp_path: Path) -> None:
    prometheus = require_binary("prometheus")
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "jobwatch",
                "honor_labels": True,
                "static_configs": [{"targets": [f"127.0.0.1:{stack.collector.port}"]}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:

            def query(promql: str) -> list[dict[str, Any]]:
                response = client.get("/api/v1/query", params={"query": promql})
                response.raise_for_status()
                return response.json()["data"]["result"]

            promql = 'sum by (job, status) (jobwatch_job_runs_total{status=~"success|failed"})'
            result = wait_for(
                lambda: query(promql), timeout=60, what="Prometheus to answer from a scrape"
            )
            got = {(r["metric"]["job"], r["metric"]["status"]): r["value"][1] for r in result}
            assert got[("contacts", "success")] == "1"
            assert got[("broken", "failed")] == "1"
            assert got[("broken", "success")] == "0"
            targets = client.get("/api/v1/targets").json()["data"]["activeTargets"]
            assert [(t["health"], t["lastError"]) for t in targets] == [("up", "")]
            stale = query(
                "time() - jobwatch_job_last_success_timestamp_seconds"
                " > bool on (job) jobwatch_job_stale_after_seconds"
            )
            assert {r["metric"]["job"]: r["value"][1] for r in stale} == {"contacts": "0"}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
