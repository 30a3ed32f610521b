"""Shared by the probe tests: short configs and waiting on a condition with a deadline."""

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

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
