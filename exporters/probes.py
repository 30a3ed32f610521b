"""Prometheus metrics of the probes, built at scrape time from the cached readings.

A custom collector rather than gauges set by the probes: the cache is the single
truth, a scrape never waits for a check, and a series that must be absent (a stream
count nobody knows, WARP on a collector that does not watch it) is simply not yielded.
"""

from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from collector.probes.manager import ProbeManager
from collector.probes.warp import WARP_STATES


def _families() -> dict[str, GaugeMetricFamily]:
    return {
        family.name: family
        for family in (
            GaugeMetricFamily(
                "jobwatch_probe_up",
                "1 when the probe's last check got an answer from the probed service",
                labels=["probe"],
            ),
            GaugeMetricFamily(
                "jobwatch_probe_duration_seconds",
                "How long the probe's last check took",
                labels=["probe"],
            ),
            GaugeMetricFamily(
                "jobwatch_active_streams",
                "Active streams; absent while the count is unknown",
                labels=["source"],
            ),
            GaugeMetricFamily(
                "jobwatch_warp_status",
                "1 for the current Cloudflare WARP state, 0 for the others",
                labels=["state"],
            ),
            GaugeMetricFamily("jobwatch_warp_connected", "1 when Cloudflare WARP is connected"),
            GaugeMetricFamily(
                "jobwatch_warp_last_connected_timestamp_seconds",
                "When Cloudflare WARP was last seen connected (Unix time)",
            ),
        )
    }


class ProbeMetrics(Collector):
    def __init__(self, manager: ProbeManager) -> None:
        self._manager = manager

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The names, without reading anything (registration must not touch the cache)."""
        yield from _families().values()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = _families()
        configured = self._manager.configured()
        for name in configured:
            reading = self._manager.reading(name)
            families["jobwatch_probe_up"].add_metric([name], 1.0 if reading.up else 0.0)
            families["jobwatch_probe_duration_seconds"].add_metric([name], reading.duration_seconds)
        if "streams" in configured:
            streams = self._manager.reading("streams").data
            if streams["count"] is not None:
                families["jobwatch_active_streams"].add_metric(
                    [streams["source"]], float(streams["count"])
                )
        if "warp" in configured:
            warp = self._manager.reading("warp").data
            for state in WARP_STATES:
                families["jobwatch_warp_status"].add_metric(
                    [state], 1.0 if warp["status"] == state else 0.0
                )
            # Before the first check the state is unknown, not "disconnected": no series,
            # so a restart cannot fire the WARP-down alert by itself.
            if warp["status"] != "unknown":
                families["jobwatch_warp_connected"].add_metric(
                    [], 1.0 if warp["status"] == "connected" else 0.0
                )
            if warp["last_connected"] is not None:
                families["jobwatch_warp_last_connected_timestamp_seconds"].add_metric(
                    [], datetime.fromisoformat(warp["last_connected"]).timestamp()
                )
        yield from families.values()
