"""The probe metrics as Prometheus scrapes them from a fresh registry."""

from collections.abc import Callable
from datetime import datetime

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.probes.manager import ProbeManager
from exporters.probes import ProbeMetrics
from tests.fakes.acestream import FakeAcexy, FakeEngine
from tests.fakes.warp_cli import FakeWarpCli
from tests.probes.helpers import streams_config, warp_config

MakeManager = Callable[..., ProbeManager]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
STATES = ("connected", "disconnected", "connecting", "error", "unknown")


def scrape(manager: ProbeManager) -> Samples:
    registry = CollectorRegistry()
    registry.register(ProbeMetrics(manager))
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def warp_status(state: str) -> Samples:
    return {
        ("jobwatch_warp_status", (("state", other),)): 1.0 if other == state else 0.0
        for other in STATES
    }


def without_durations(samples: Samples) -> Samples:
    durations = {key for key in samples if key[0] == "jobwatch_probe_duration_seconds"}
    assert all(samples[key] >= 0 for key in durations)
    return {key: value for key, value in samples.items() if key not in durations}


def test_nothing_configured_exports_nothing(make_manager: MakeManager) -> None:
    assert scrape(make_manager()) == {}


def test_streams_metrics(make_manager: MakeManager, acexy: FakeAcexy, engine: FakeEngine) -> None:
    manager = make_manager(streams=streams_config(acexy.url, engine.url))
    assert scrape(manager) == {
        ("jobwatch_probe_up", (("probe", "streams"),)): 0.0,
        ("jobwatch_probe_duration_seconds", (("probe", "streams"),)): 0.0,
    }
    reading = manager.check("streams")
    samples = scrape(manager)
    assert samples[("jobwatch_probe_duration_seconds", (("probe", "streams"),))] == (
        reading.duration_seconds
    )
    assert without_durations(samples) == {
        ("jobwatch_probe_up", (("probe", "streams"),)): 1.0,
        ("jobwatch_active_streams", (("source", "acexy"),)): 3.0,
    }
    acexy.set("up", streams=0)
    manager.check("streams")
    assert scrape(manager)[("jobwatch_active_streams", (("source", "acexy"),))] == 0.0

    acexy.set("error")
    manager.check("streams")
    assert without_durations(scrape(manager)) == {  # the engine cannot count: no series
        ("jobwatch_probe_up", (("probe", "streams"),)): 1.0,
    }
    engine.set("hang")
    manager.check("streams")
    assert without_durations(scrape(manager)) == {
        ("jobwatch_probe_up", (("probe", "streams"),)): 0.0,
    }


def test_warp_metrics(make_manager: MakeManager, warp_cli: FakeWarpCli) -> None:
    manager = make_manager(warp=warp_config(warp_cli.command()))
    assert without_durations(scrape(manager)) == {  # unknown before the first check
        ("jobwatch_probe_up", (("probe", "warp"),)): 0.0,
        **warp_status("unknown"),
    }
    last_connected = datetime.fromisoformat(manager.check("warp").data["last_connected"])
    timestamp = ("jobwatch_warp_last_connected_timestamp_seconds", ())
    assert without_durations(scrape(manager)) == {
        ("jobwatch_probe_up", (("probe", "warp"),)): 1.0,
        **warp_status("connected"),
        ("jobwatch_warp_connected", ()): 1.0,
        timestamp: last_connected.timestamp(),
    }
    for answer, state, up in [
        ("disconnected_old", "disconnected", 1.0),
        ("json_connecting", "connecting", 1.0),
        ("unable", "error", 1.0),
        ("hang", "error", 0.0),
        ("daemon_down", "error", 0.0),
    ]:
        warp_cli.set(answer)
        manager.check("warp")
        assert without_durations(scrape(manager)) == {
            ("jobwatch_probe_up", (("probe", "warp"),)): up,
            **warp_status(state),
            ("jobwatch_warp_connected", ()): 0.0,
            timestamp: last_connected.timestamp(),
        }, answer


def test_describe_names_the_series_so_a_duplicate_is_refused(make_manager: MakeManager) -> None:
    registry = CollectorRegistry()
    manager = make_manager()
    registry.register(ProbeMetrics(manager))
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(ProbeMetrics(manager))
