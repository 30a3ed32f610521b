"""The probe routes, mounted the way the collector mounts them, over real probe readings."""

from collections.abc import Callable

from collector.probes.manager import ProbeManager
from tests.fakes.acestream import FakeAcexy, FakeEngine
from tests.fakes.warp_cli import DAEMON_DOWN, FakeWarpCli
from tests.probes.helpers import client_for, streams_config, warp_config

MakeManager = Callable[..., ProbeManager]


def test_unconfigured_probes_answer_unavailable_and_unknown(make_manager: MakeManager) -> None:
    client = client_for(make_manager())
    streams = client.get("/api/v1/streams/active")
    assert streams.status_code == 200
    assert streams.json() == {"count": None, "source": "unavailable", "checked_at": None}
    warp = client.get("/api/v1/warp/status")
    assert warp.status_code == 200
    assert warp.json() == {
        "status": "unknown",
        "last_connected": None,
        "error": None,
        "details": {"checked_at": None},
    }


def test_active_streams_in_each_source(
    make_manager: MakeManager, acexy: FakeAcexy, engine: FakeEngine
) -> None:
    manager = make_manager(streams=streams_config(acexy.url, engine.url))
    client = client_for(manager)
    for acexy_behaviour, engine_behaviour, count, source in [
        ("up", "up", 3, "acexy"),
        ("garbage", "up", None, "acestream"),
        ("down", "down", None, "unavailable"),
    ]:
        acexy.set(acexy_behaviour, streams=3)
        engine.set(engine_behaviour)
        checked_at = manager.check("streams").checked_at
        assert checked_at is not None
        assert client.get("/api/v1/streams/active").json() == {
            "count": count,
            "source": source,
            "checked_at": checked_at.isoformat(),
        }


def test_warp_status_in_each_state(make_manager: MakeManager, warp_cli: FakeWarpCli) -> None:
    manager = make_manager(warp=warp_config(warp_cli.command()))
    client = client_for(manager)
    connected = manager.check("warp")
    last_connected = connected.data["last_connected"]
    assert client.get("/api/v1/warp/status").json() == {
        "status": "connected",
        "last_connected": last_connected,
        "error": None,
        "details": {
            "source": "warp-cli",
            "reason": None,
            "checked_at": connected.checked_at.isoformat(),
        },
    }
    for answer, status, error, reason in [
        ("disconnected", "disconnected", None, "Manual Disconnection"),
        ("connecting", "connecting", None, "Checking for a route to the DNS"),
        ("unable", "error", "WARP is unable to connect: No network", "No network"),
        ("daemon_down", "error", f"warp-cli exited with status 1: {DAEMON_DOWN}", None),
    ]:
        warp_cli.set(answer)
        reading = manager.check("warp")
        assert client.get("/api/v1/warp/status").json() == {
            "status": status,
            "last_connected": last_connected,
            "error": error,
            "details": {
                "source": "warp-cli",
                "reason": reason,
                "checked_at": reading.checked_at.isoformat(),
            },
        }
