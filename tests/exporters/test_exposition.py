"""The cached exposition: byte-identical to the library's, valid, and with exemplars."""

import subprocess
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)

from collector.events import ActivityRecorded, ScheduleMissed
from exporters.blocks import split_families
from exporters.metrics import JobwatchMetrics
from tests.exporters.conftest import MakeMetrics
from tests.exporters.helpers import T0, TRACE_ID, play_run, samples
from tests.support.binaries import require_binary

OTHER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def busy(metrics: JobwatchMetrics) -> JobwatchMetrics:
    """A mix of every kind of update, so every family has samples worth checking."""
    play_run(metrics, 1, "crm", "success", duration=42.0, records_created=3)
    play_run(metrics, 2, "crm", "partial", duration=7200.0, trace_id=OTHER_TRACE)
    play_run(metrics, 3, "playlist", "failed", duration=0.25)
    play_run(metrics, 4, "manual", "success", dry_run=True)
    metrics.handle(ScheduleMissed(job="playlist", scheduled_at=T0))
    metrics.handle(ActivityRecorded(entry={"type": "scrape", "status": "warning"}))
    return metrics


def with_neighbour(make_metrics: MakeMetrics) -> tuple[JobwatchMetrics, CollectorRegistry]:
    """Busy metrics in a registry that also holds somebody else's metric (the probes')."""
    registry = CollectorRegistry()
    metrics = make_metrics(registry=registry)
    Gauge("jobwatch_probe_up", "A neighbour's metric.", ["probe"], registry=registry).labels(
        "warp"
    ).set(1)
    return busy(metrics), registry


@pytest.mark.parametrize(
    ("openmetrics", "encode"), [(False, generate_latest), (True, generate_openmetrics)]
)
def test_render_is_byte_identical_to_the_library_encoder(
    make_metrics: MakeMetrics, openmetrics: bool, encode: object
) -> None:
    metrics, registry = with_neighbour(make_metrics)
    assert metrics.render(openmetrics=openmetrics) == encode(registry)  # type: ignore[operator]
    # And still after more events, when some blocks are cached and some are not.
    play_run(metrics, 9, "playlist", "success", finished_at=T0 + timedelta(hours=1))
    assert metrics.render(openmetrics=openmetrics) == encode(registry)  # type: ignore[operator]


def test_every_family_appears_once_and_contiguously(make_metrics: MakeMetrics) -> None:
    metrics, _ = with_neighbour(make_metrics)
    headers = [header for header, _ in split_families(metrics.render(openmetrics=False))]
    assert len(headers) == len(set(headers))
    probe_up = [h for h in headers if b"jobwatch_probe_up" in h]
    assert len(probe_up) == 1
    parsed = samples(metrics.render(openmetrics=False))
    assert parsed[("jobwatch_probe_up", frozenset({("probe", "warp")}))] == 1


def test_promtool_finds_nothing_to_complain_about(make_metrics: MakeMetrics) -> None:
    promtool = require_binary("promtool")
    metrics, _ = with_neighbour(make_metrics)
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=metrics.render(openmetrics=False),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


def test_openmetrics_carries_the_trace_id_exemplar_on_the_observed_bucket(
    metrics: JobwatchMetrics,
) -> None:
    busy(metrics)
    exposition = metrics.render(openmetrics=True).decode()
    assert exposition.endswith("# EOF\n")
    assert f'le="60.0"}} 1.0 # {{trace_id="{TRACE_ID}"}} 42.0 ' in exposition
    assert f'le="7200.0"}} 2.0 # {{trace_id="{OTHER_TRACE}"}} 7200.0 ' in exposition
    exemplars = {
        (sample.labels["job"], sample.labels["le"]): sample.exemplar
        for family in parse_openmetrics(exposition)
        for sample in family.samples
        if sample.exemplar is not None
    }
    assert set(exemplars) == {
        ("crm", "60.0"),
        ("crm", "7200.0"),
        ("playlist", "1.0"),
        ("manual", "30.0"),
    }
    assert exemplars["crm", "60.0"].labels == {"trace_id": TRACE_ID}
    assert exemplars["crm", "60.0"].value == 42.0
    assert float(exemplars["crm", "60.0"].timestamp) == (T0 + timedelta(minutes=1)).timestamp()


def test_the_text_format_has_no_exemplars(metrics: JobwatchMetrics) -> None:
    assert b"} # {trace_id=" not in busy(metrics).render(openmetrics=False)
