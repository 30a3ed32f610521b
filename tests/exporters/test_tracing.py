"""``setup_tracing`` in a fresh interpreter (it sets the process-wide provider, once),
exporting to a real OTLP/HTTP receiver on loopback."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from tests.exporters.otlp_receiver import OtlpReceiver, otlp_receiver

ROOT = Path(__file__).resolve().parents[2]

# What the executor does: a run span from the global tracer with a child step in it.
SCRIPT = """
import json, sys
from opentelemetry import trace
from exporters.tracing import setup_tracing, shutdown_tracing

provider = setup_tracing("jobwatch", "1.2.3")
tracer = trace.get_tracer("jobwatch.test")
attributes = {"jobwatch.job": "crm", "jobwatch.run_id": 7}
with tracer.start_as_current_span("jobwatch.run crm", attributes=attributes) as run:
    run.set_attribute("jobwatch.status", "success")
    with tracer.start_as_current_span("db.write run"):
        pass
context = run.get_span_context()
shutdown_tracing(provider)
print(json.dumps({
    "trace_id": trace.format_trace_id(context.trace_id),
    "span_id": trace.format_span_id(context.span_id),
    "valid": context.is_valid,
    "otlp_loaded": "opentelemetry.exporter.otlp.proto.http.trace_exporter" in sys.modules,
}))
"""


def run_script(**env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**clean, "OTEL_BSP_SCHEDULE_DELAY": "50", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as receiver:
        yield receiver


def test_a_run_span_and_its_child_reach_the_otlp_receiver(receiver: OtlpReceiver) -> None:
    printed = run_script(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
    run = receiver.wait_for("jobwatch.run crm")
    child = receiver.wait_for("db.write run")
    assert printed["valid"]
    assert run.trace_id == child.trace_id == printed["trace_id"]
    assert run.span_id == printed["span_id"]
    assert child.parent_span_id == run.span_id
    assert run.parent_span_id == ""
    assert run.attributes == {
        "jobwatch.job": "crm",
        "jobwatch.run_id": 7,
        "jobwatch.status": "success",
    }
    assert run.kind == ProtoSpan.SPAN_KIND_INTERNAL
    assert run.resource["service.name"] == "jobwatch"
    assert run.resource["service.version"] == "1.2.3"
    assert run.resource["telemetry.sdk.name"] == "opentelemetry"


def test_the_standard_variables_override_the_resource(receiver: OtlpReceiver) -> None:
    run_script(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{receiver.endpoint}/v1/traces",
        OTEL_SERVICE_NAME="jobwatch-prod",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=staging,service.version=9.9",
    )
    resource = receiver.wait_for("jobwatch.run crm").resource
    assert resource["service.name"] == "jobwatch-prod"
    assert resource["service.version"] == "9.9"
    assert resource["deployment.environment"] == "staging"


def test_without_an_endpoint_nothing_is_exported_but_runs_get_trace_ids(
    receiver: OtlpReceiver,
) -> None:
    printed = run_script()
    assert printed["valid"]
    assert not printed["otlp_loaded"]
    assert receiver.requests == 0


@pytest.mark.parametrize(
    ("switch", "traced"), [("OTEL_SDK_DISABLED", False), ("OTEL_TRACES_EXPORTER", True)]
)
def test_switches_turn_export_off(receiver: OtlpReceiver, switch: str, traced: bool) -> None:
    value = "true" if switch == "OTEL_SDK_DISABLED" else "none"
    printed = run_script(**{switch: value, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
    assert printed["valid"] is traced
    assert not printed["otlp_loaded"]
    assert receiver.requests == 0
