"""The manager: cached readings, activity entries on state changes, tasks, restarts."""

from collections.abc import Callable
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from collector.events import EventBus, TaskFinished
from collector.probes.manager import ProbeManager, ProbeStateChanged
from collector.store.database import Database
from collector.store.models import TaskStatus
from collector.tasks import BackgroundTasks
from tests.fakes.acestream import FakeAcexy, FakeEngine
from tests.fakes.warp_cli import DAEMON_DOWN, FakeWarpCli
from tests.probes.helpers import streams_config, wait_for, warp_config

Entries = Callable[[], list[dict[str, Any]]]
MakeManager = Callable[..., ProbeManager]
REFUSED = "ConnectError: [Errno 111] Connection refused"


def summary(entries: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["type"], e["status"], e["message"]) for e in entries]


def test_nothing_configured_serves_defaults(make_manager: MakeManager) -> None:
    manager = make_manager()
    manager.start()
    assert manager.configured() == []
    assert manager.reading("streams").data == {
        "count": None,
        "source": "unavailable",
        "details": {},
    }
    assert manager.reading("warp").data == {
        "status": "unknown",
        "last_connected": None,
        "details": {},
    }


def test_unknown_probe_is_refused(
    database: Database, bus: EventBus, tasks: BackgroundTasks
) -> None:
    with pytest.raises(ValueError, match=r"unknown probes \['ping'\]"):
        ProbeManager({"ping": None}, database=database, bus=bus, tasks=tasks)


def test_streams_changes_are_logged_once_each(
    make_manager: MakeManager,
    acexy: FakeAcexy,
    engine: FakeEngine,
    entries: Entries,
    bus: EventBus,
) -> None:
    changes: list[tuple[str | None, str]] = []
    bus.subscribe(
        lambda e: (
            changes.append((e.previous, e.state)) if isinstance(e, ProbeStateChanged) else None
        )
    )
    manager = make_manager(streams=streams_config(acexy.url, engine.url))
    assert manager.configured() == ["streams"]

    assert manager.check("streams").data["count"] == 3  # healthy first reading: nothing to say
    acexy.set("up", streams=5)
    manager.check("streams")  # only the count changed
    assert entries() == []

    acexy.set("down")
    manager.check("streams")
    manager.check("streams")
    engine.set("down")
    manager.check("streams")
    manager.check("streams")
    engine.set("up")
    manager.check("streams")
    acexy.set("up", streams=2)
    manager.check("streams")
    manager.check("streams")

    logged = entries()
    assert summary(logged) == [
        (
            "probe",
            "warning",
            f"acexy does not answer ({REFUSED}); the AceStream engine does, "
            "so the number of active streams is unknown",
        ),
        (
            "probe",
            "error",
            f"Active streams unavailable: acexy: {REFUSED}; "
            f"acestream: get_status: {REFUSED}; get_version: {REFUSED}",
        ),
        (
            "probe",
            "warning",
            f"acexy does not answer ({REFUSED}); the AceStream engine does, "
            "so the number of active streams is unknown",
        ),
        ("probe", "success", "acexy answers again: 2 active streams"),
    ]
    assert logged[0]["details"] == {
        "probe": "streams",
        "previous": "acexy",
        "state": "acestream",
        "acexy_error": REFUSED,
        "engine_version": "3.1.74",
    }
    assert logged[3]["details"] == {"probe": "streams", "previous": "acestream", "state": "acexy"}
    assert changes == [
        (None, "acexy"),
        ("acexy", "acestream"),
        ("acestream", "unavailable"),
        ("unavailable", "acestream"),
        ("acestream", "acexy"),
    ]


def test_streams_engine_only_setup(
    make_manager: MakeManager, engine: FakeEngine, entries: Entries
) -> None:
    """Without acexy, the engine answering is the normal state, not a degraded one."""
    manager = make_manager(streams=streams_config(None, engine.url))
    manager.check("streams")
    engine.set("error")
    manager.check("streams")
    engine.set("legacy")
    manager.check("streams")
    assert summary(entries()) == [
        (
            "probe",
            "error",
            "Active streams unavailable: acestream: get_status: HTTP 500; get_version: HTTP 500",
        ),
        ("probe", "success", "The AceStream engine answers again"),
    ]


def test_warp_changes_are_logged_once_each(
    make_manager: MakeManager, warp_cli: FakeWarpCli, entries: Entries
) -> None:
    manager = make_manager(warp=warp_config(warp_cli.command()))
    for answer in (
        "connected",
        "connected",
        "disconnected",
        "disconnected_old",
        "connecting",
        "daemon_down",
        "unable",  # still "error": not news
        "connected",
        "connected_old",
    ):
        warp_cli.set(answer)
        manager.check("warp")
    logged = entries()
    assert summary(logged) == [
        ("probe", "warning", "WARP disconnected (Manual Disconnection)"),
        ("probe", "warning", "WARP is connecting, not connected (Checking for a route to the DNS)"),
        (
            "probe",
            "error",
            f"WARP status error: warp-cli exited with status 1: {DAEMON_DOWN}",
        ),
        ("probe", "success", "WARP connected again"),
    ]
    assert logged[0]["details"] == {
        "probe": "warp",
        "previous": "connected",
        "state": "disconnected",
        "source": "warp-cli",
        "reason": "Manual Disconnection",
        "error": None,
    }


def test_a_bad_first_reading_is_logged(
    make_manager: MakeManager, warp_cli: FakeWarpCli, entries: Entries
) -> None:
    warp_cli.set("disconnected")
    make_manager(warp=warp_config(warp_cli.command())).check("warp")
    assert summary(entries()) == [("probe", "warning", "WARP disconnected (Manual Disconnection)")]


def test_tasks_record_readings_and_a_restart_remembers(
    database: Database,
    bus: EventBus,
    scheduler: BackgroundScheduler,
    tasks: BackgroundTasks,
    acexy: FakeAcexy,
    engine: FakeEngine,
    warp_cli: FakeWarpCli,
    entries: Entries,
) -> None:
    finished: list[TaskFinished] = []
    bus.subscribe(lambda e: finished.append(e) if isinstance(e, TaskFinished) else None)
    configs = {
        "streams": streams_config(acexy.url, engine.url),
        "warp": warp_config(warp_cli.command()),
    }
    warp_cli.set("disconnected")
    manager = ProbeManager(configs, database=database, bus=bus, tasks=tasks)
    manager.start()
    assert sorted(tasks.names()) == ["probe:streams", "probe:warp"]
    scheduler.start()
    wait_for(
        lambda: {e.task_name for e in finished} == {"probe:streams", "probe:warp"},
        what="both probe tasks to run",
    )
    scheduler.shutdown(wait=True)
    warp_cli.set("connected")
    tasks.run_once("probe:warp")

    with database.read() as session:
        rows = {row.task_name: row for row in session.query(TaskStatus).all()}
    streams_row, warp_row = rows["probe:streams"], rows["probe:warp"]
    assert (streams_row.status, streams_row.last_error) == ("ok", None)
    assert streams_row.next_run is not None
    result = dict(streams_row.last_result)
    assert result.pop("duration_seconds") >= 0
    assert result == {**manager.reading("streams").as_result()}
    assert result == {"count": 3, "source": "acexy", "details": {}, "up": True, "error": None}
    last_connected = manager.reading("warp").data["last_connected"]
    assert warp_row.last_result["status"] == "connected"
    assert warp_row.last_result["last_connected"] == last_connected
    before_restart = summary(entries())
    assert before_restart == [
        ("probe", "warning", "WARP disconnected (Manual Disconnection)"),
        ("probe", "success", "WARP connected again"),
    ]

    # A new process: the same database, a fresh manager and tasks.
    restarted = ProbeManager(
        configs,
        database=database,
        bus=bus,
        tasks=BackgroundTasks(database, bus, BackgroundScheduler()),
    )
    restarted.start()
    assert restarted.reading("warp").data == {
        "status": "unknown",
        "last_connected": last_connected,
        "details": {},
    }
    restarted.check("warp")  # still connected: no "connected again" entry
    acexy.set("down")
    restarted.check("streams")  # acexy was up before the restart: this is news
    assert summary(entries())[len(before_restart) :] == [
        (
            "probe",
            "warning",
            f"acexy does not answer ({REFUSED}); the AceStream engine does, "
            "so the number of active streams is unknown",
        )
    ]


def test_a_probe_that_is_down_records_its_task_as_an_error(
    database: Database, bus: EventBus, tasks: BackgroundTasks, acexy: FakeAcexy
) -> None:
    acexy.set("error")
    manager = ProbeManager(
        {"streams": streams_config(acexy.url, None)}, database=database, bus=bus, tasks=tasks
    )
    manager.start()
    tasks.run_once("probe:streams")

    with database.read() as session:
        row = session.get(TaskStatus, "probe:streams")
    assert row is not None
    assert row.status == "error"
    assert row.last_error == manager.reading("streams").error
    assert row.last_error
    assert row.last_result["up"] is False
    assert row.last_result["source"] == "unavailable"
