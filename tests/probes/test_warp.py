"""The WARP probe running real warp-cli scripts and a real loopback cdn-cgi/trace."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.probes.warp import WarpProbe
from collector.store.database import Database
from tests.fakes.trace import FakeTrace
from tests.fakes.warp_cli import DAEMON_DOWN, FakeWarpCli, process_gone
from tests.probes.helpers import TIMEOUT, wait_for, warp_config

SLACK = 0.5
UNABLE = "WARP is unable to connect: "


@pytest.mark.parametrize(
    ("answer", "json_flag", "status", "up", "reason", "error"),
    [
        ("connected", False, "connected", True, None, None),
        ("connected_old", False, "connected", True, None, None),
        ("disconnected", False, "disconnected", True, "Manual Disconnection", None),
        ("disconnected_old", False, "disconnected", True, "Manual Disconnection", None),
        ("connecting", False, "connecting", True, "Checking for a route to the DNS", None),
        ("unable", False, "error", True, "No network", UNABLE + "No network"),
        (
            "unable_old",
            False,
            "error",
            True,
            "Registration missing",
            UNABLE + "Registration missing",
        ),
        ("json_connected", True, "connected", True, None, None),
        ("json_connected", False, "connected", True, None, None),  # JSON accepted in text mode
        ("json_disconnected", True, "disconnected", True, "Manual", None),
        ("json_disconnected_object", True, "disconnected", True, "SettingsChanged", None),
        ("json_connecting", True, "connecting", True, "PerformingHappyEyeballs: MASQUE", None),
        ("json_unable", True, "error", True, "NoNetwork", UNABLE + "NoNetwork"),
        (
            "daemon_down",
            False,
            "error",
            False,
            None,
            f"warp-cli exited with status 1: {DAEMON_DOWN}",
        ),
        (
            "daemon_down",
            True,
            "error",
            False,
            None,
            f"warp-cli exited with status 1: {DAEMON_DOWN}",
        ),
        ("json_error", True, "error", False, None, f"warp-cli: {DAEMON_DOWN}"),
        ("json_error", False, "error", False, None, f"warp-cli: {DAEMON_DOWN}"),
        (
            "garbage",
            False,
            "error",
            False,
            None,
            "unrecognised warp-cli output: 'Usage: warp-cli [OPTIONS] <COMMAND>'",
        ),
        (
            "connected",
            True,
            "error",
            False,
            None,
            "unrecognised warp-cli output: 'Status update: Connected'",
        ),
    ],
)
def test_every_cli_answer(
    database: Database,
    warp_cli: FakeWarpCli,
    answer: str,
    json_flag: bool,
    status: str,
    up: bool,
    reason: str | None,
    error: str | None,
) -> None:
    warp_cli.set(answer)
    before = datetime.now(UTC)
    reading = WarpProbe(
        warp_config(warp_cli.command(json_flag=json_flag)), database=database
    ).check()
    assert (reading.data["status"], reading.up, reading.error) == (status, up, error)
    assert reading.data["details"] == {"source": "warp-cli", "reason": reason}
    if status == "connected":
        assert before <= datetime.fromisoformat(reading.data["last_connected"]) <= datetime.now(UTC)
    else:
        assert reading.data["last_connected"] is None
    assert (warp_cli.directory / "argv").read_text().split() == warp_cli.command(
        json_flag=json_flag
    )[1:]


def test_hanging_cli_is_killed_with_its_children(database: Database, warp_cli: FakeWarpCli) -> None:
    warp_cli.set("hang")
    reading = WarpProbe(warp_config(warp_cli.command()), database=database).check()
    assert reading.data["status"] == "error"
    assert reading.up is False
    assert reading.error == f"warp-cli did not answer within {TIMEOUT:g}s and was killed"
    assert TIMEOUT <= reading.duration_seconds < TIMEOUT + SLACK
    pids = warp_cli.pids()
    assert len(pids) == 2  # the script and the child it waits on
    for pid in pids:
        wait_for(lambda pid=pid: process_gone(pid), timeout=2, what=f"pid {pid} to be gone")


def test_missing_cli(database: Database, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-warp-cli")
    reading = WarpProbe(warp_config([missing, "status"]), database=database).check()
    assert (reading.data["status"], reading.up) == ("error", False)
    assert reading.error is not None
    assert reading.error.startswith(f"cannot run {missing!r}: [Errno 2] No such file or directory")


@pytest.mark.parametrize(
    ("behaviour", "status", "up", "error"),
    [
        ("on", "connected", True, None),
        ("plus", "connected", True, None),
        ("off", "disconnected", True, None),
        ("no_warp", "error", False, "trace: no warp=on|plus|off in the trace (warp=missing)"),
        ("error", "error", False, "trace: HTTP 500"),
        ("hang", "error", False, "trace: no answer before the timeout"),
    ],
)
def test_trace_alone(
    database: Database, trace: FakeTrace, behaviour: str, status: str, up: bool, error: str | None
) -> None:
    trace.set(behaviour)
    reading = WarpProbe(warp_config(None, trace.trace_url), database=database).check()
    assert (reading.data["status"], reading.up, reading.error) == (status, up, error)
    expected = {"source": "trace"} if error else {"source": "trace", "status": status}
    assert reading.data["details"] == expected
    assert reading.duration_seconds < TIMEOUT + SLACK


def test_trace_down(database: Database, trace: FakeTrace) -> None:
    trace.set("down")
    reading = WarpProbe(warp_config(None, trace.trace_url), database=database).check()
    assert reading.data["status"] == "error"
    assert reading.error == "trace: ConnectError: [Errno 111] Connection refused"


@pytest.mark.parametrize(
    ("answer", "behaviour", "status", "trace_details"),
    [
        ("connected", "on", "connected", {"status": "connected", "agrees": True}),
        ("connected", "off", "connected", {"status": "disconnected", "agrees": False}),
        ("disconnected", "plus", "disconnected", {"status": "connected", "agrees": False}),
        (
            "connected",
            "error",
            "connected",
            {"error": "HTTP 500"},
        ),
    ],
)
def test_cli_wins_and_trace_goes_in_details(
    database: Database,
    warp_cli: FakeWarpCli,
    trace: FakeTrace,
    answer: str,
    behaviour: str,
    status: str,
    trace_details: dict[str, object],
) -> None:
    warp_cli.set(answer)
    trace.set(behaviour)
    reading = WarpProbe(warp_config(warp_cli.command(), trace.trace_url), database=database).check()
    assert reading.data["status"] == status
    assert reading.data["details"]["trace"] == trace_details


def test_hanging_cli_does_not_hide_the_trace(
    database: Database, warp_cli: FakeWarpCli, trace: FakeTrace
) -> None:
    """Both run at once, so the trace still answers within the one timeout."""
    warp_cli.set("hang")
    reading = WarpProbe(warp_config(warp_cli.command(), trace.trace_url), database=database).check()
    assert reading.data["status"] == "error"
    assert reading.data["details"]["trace"] == {"status": "connected", "agrees": False}
    assert reading.duration_seconds < TIMEOUT + SLACK


def test_last_connected_survives_disconnection_and_restart(
    database: Database, warp_cli: FakeWarpCli
) -> None:
    config = warp_config(warp_cli.command())
    probe = WarpProbe(config, database=database)
    connected_at = probe.check().data["last_connected"]
    assert connected_at is not None
    warp_cli.set("disconnected")
    assert probe.check().data["last_connected"] == connected_at
    warp_cli.set("daemon_down")
    assert probe.check().data["last_connected"] == connected_at

    restarted = WarpProbe(config, database=database)
    restored = restarted.restore()
    assert restored.data == {"status": "unknown", "last_connected": connected_at, "details": {}}
    assert restarted.check().data["last_connected"] == connected_at
    warp_cli.set("connected")
    later = restarted.check().data["last_connected"]
    assert datetime.fromisoformat(later) - datetime.fromisoformat(connected_at) > timedelta(0)


def test_default_reading_is_unknown() -> None:
    reading = WarpProbe.default_reading()
    assert (reading.up, reading.checked_at, reading.error) == (False, None, None)
    assert reading.data == {"status": "unknown", "last_connected": None, "details": {}}
