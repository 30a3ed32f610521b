"""Shared by the probe tests: short configs, the API client, waiting with a deadline."""

import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.api.probes import router
from collector.probes.manager import ProbeManager
from collector.probes.streams import StreamsConfig
from collector.probes.warp import WarpConfig

TIMEOUT = 0.6
"""Short, so the hanging cases stay quick; long enough for a loopback answer."""


def wait_for(condition: Callable[[], Any], *, timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``condition`` until it is truthy; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout}s waiting for {what or condition}")
        threading.Event().wait(0.01)


def streams_config(
    acexy_url: str | None, acestream_url: str | None, timeout: float = TIMEOUT
) -> StreamsConfig:
    return StreamsConfig(
        acexy_url=acexy_url, acestream_url=acestream_url, interval=1, timeout=timeout
    )


def warp_config(
    command: list[str] | None, trace_url: str | None = None, timeout: float = TIMEOUT
) -> WarpConfig:
    return WarpConfig(command=command, trace_url=trace_url, interval=1, timeout=timeout)


def client_for(manager: ProbeManager) -> TestClient:
    """The probe routes mounted as the collector mounts them, on a collector with ``probes``."""
    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    app.state.collector = SimpleNamespace(probes=manager)
    return TestClient(app)
