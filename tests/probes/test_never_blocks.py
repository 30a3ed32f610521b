"""A hanging acexy or warp-cli never delays the API or /metrics beyond a cache read."""

import time
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry, generate_latest

from collector.events import EventBus, TaskFinished
from collector.probes.manager import ProbeManager
from collector.probes.streams import StreamsConfig
from collector.probes.warp import WarpConfig
from collector.tasks import BackgroundTasks
from exporters.probes import ProbeMetrics
from tests.fakes.acestream import FakeAcexy
from tests.fakes.warp_cli import FakeWarpCli, process_gone
from tests.probes.helpers import client_for, wait_for

TIMEOUT = 1.5
CACHE_READ = 0.25
"""Generous for a dict read through FastAPI or prometheus_client; far below TIMEOUT."""


def timed(read: Callable[[], object]) -> float:
    began = time.monotonic()
    read()
    return time.monotonic() - began


def test_reads_answer_while_both_checks_hang(
    bus: EventBus,
    scheduler: BackgroundScheduler,
    tasks: BackgroundTasks,
    make_manager: Callable[..., ProbeManager],
    acexy: FakeAcexy,
    warp_cli: FakeWarpCli,
) -> None:
    finished: list[str] = []
    bus.subscribe(lambda e: finished.append(e.task_name) if isinstance(e, TaskFinished) else None)
    acexy.set("hang")
    warp_cli.set("hang")
    manager = make_manager(
        streams=StreamsConfig(acexy_url=acexy.url, interval=60, timeout=TIMEOUT),
        warp=WarpConfig(command=warp_cli.command(), interval=60, timeout=TIMEOUT),
    )
    manager.start()
    scheduler.start()
    wait_for(acexy.hanging.is_set, what="acexy to hold a request")
    wait_for(lambda: len(warp_cli.pids()) == 2, what="warp-cli to hang")

    client = client_for(manager)
    registry = CollectorRegistry()
    registry.register(ProbeMetrics(manager))
    assert timed(lambda: client.get("/api/v1/streams/active")) < CACHE_READ
    assert timed(lambda: client.get("/api/v1/warp/status")) < CACHE_READ
    assert timed(lambda: generate_latest(registry)) < CACHE_READ
    assert finished == []  # both checks were still blocked during the reads
    assert client.get("/api/v1/streams/active").json()["source"] == "unavailable"
    assert client.get("/api/v1/warp/status").json()["status"] == "unknown"

    wait_for(
        lambda: sorted(finished) == ["probe:streams", "probe:warp"],
        timeout=TIMEOUT * 3,
        what="both checks to time out",
    )
    assert manager.reading("streams").error == "acexy: no answer before the timeout"
    assert manager.reading("warp").error == (
        f"warp-cli did not answer within {TIMEOUT:g}s and was killed"
    )
    for pid in warp_cli.pids():
        wait_for(lambda pid=pid: process_gone(pid), timeout=2, what=f"pid {pid} to be gone")
