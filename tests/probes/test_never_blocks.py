"""A hanging acexy or warp-cli never delays the API or /metrics beyond a cache read."""

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
    streams = client.get("/api/v1/streams/active").json()
    warp = client.get("/api/v1/warp/status").json()
    exposition = generate_latest(registry).decode()
    # Every read answered while both checks were still blocked on their hung peers.
    assert finished == []
    assert acexy.hanging.is_set()
    assert streams["source"] == "unavailable"
    assert warp["status"] == "unknown"
    assert 'jobwatch_probe_up{probe="streams"} 0.0' in exposition

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
