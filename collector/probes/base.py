"""What every probe shares: its config, its reading, and a time-bounded HTTP GET.

A probe watches something outside jobwatch (a proxy, a tunnel). It runs on the
background scheduler, never inside an HTTP request, and each check ends within its
own timeout whatever the other side does, so a hanging service can only make a
reading late by one timeout, never stall the API or ``/metrics``.
"""

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from collector.events import utcnow
from collector.jobconfig import Duration
from collector.store.database import Database

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
Interval = Annotated[Duration, Field(ge=1)]
# Validated even when defaulted, so ``interval: 3s`` alone still meets the timeout check.
Timeout = Annotated[Duration, Field(gt=0, validate_default=True)]


class ProbeConfigBase(BaseModel):
    """Fields of every probe; each probe subclasses it and sets its own defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: Interval
    timeout: Timeout

    @field_validator("timeout")
    @classmethod
    def _shorter_than_interval(cls, timeout: float, info: ValidationInfo) -> float:
        # A check that may outlast its interval would pile up behind itself.
        interval = info.data.get("interval")
        if interval is not None and timeout >= interval:
            raise ValueError(f"must be shorter than interval ({interval:g}s), got {timeout:g}s")
        return timeout


def http_url(value: str | None) -> str | None:
    """Validate an ``http(s)://host[:port][/path]`` base URL; drop a trailing slash."""
    if value is None:
        return None
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"{value!r} is not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value.rstrip("/")


@dataclass(frozen=True)
class ProbeReading:
    """One probe's answer; ``checked_at`` is None only before the first check."""

    up: bool
    duration_seconds: float
    checked_at: datetime | None
    data: dict[str, Any]
    error: str | None = None

    def as_result(self) -> dict[str, Any]:
        """The JSON kept in ``task_status.last_result``: the data plus whether it worked."""
        return {**self.data, "up": self.up, "error": self.error}


@dataclass(frozen=True)
class Outcome:
    """What one check found, before timing is attached."""

    up: bool
    data: dict[str, Any]
    error: str | None = None


@dataclass(frozen=True)
class StateChange:
    """An activity entry worth writing because the probed thing changed state."""

    status: Literal["success", "warning", "error"]
    message: str
    details: dict[str, Any]


class ProbeError(Exception):
    """The probed service did not give a usable answer; the message says why."""


class Deadline:
    """The time left of one check, shared by every request the check makes."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(self._end - time.monotonic(), 0.0)


def http_get(url: str, budget: float) -> tuple[int, str]:
    """GET ``url`` and return (status, body), all within ``budget`` seconds.

    httpx timeouts bound each network step (connect, then each read), not the whole
    request, so the body is streamed and the clock checked between chunks: a trickling
    server cannot stretch the check past the budget plus the connect time. Proxy
    variables are ignored: the probes target local services, and a ``cdn-cgi/trace``
    through a proxy would describe the proxy's route, not ours.
    """
    if budget <= 0:
        raise ProbeError("no time left in the probe timeout")
    end = time.monotonic() + budget
    try:
        with (
            httpx.Client(timeout=budget, trust_env=False) as client,
            client.stream("GET", url) as response,
        ):
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise ProbeError(f"answer larger than {MAX_BODY_BYTES} bytes")
                if time.monotonic() > end:
                    raise ProbeError("no complete answer before the timeout")
            return response.status_code, body.decode("utf-8", errors="replace")
    except httpx.TimeoutException:
        raise ProbeError("no answer before the timeout") from None
    except httpx.HTTPError as exc:
        raise ProbeError(f"{type(exc).__name__}: {exc}") from None


class Probe(ABC):
    """One watched service. Subclasses add a line to ``collector.probes.PROBES``."""

    name: ClassVar[str]
    config_model: ClassVar[type[ProbeConfigBase]]
    state_field: ClassVar[str]
    """The key of ``data`` whose change is worth an activity entry."""

    def __init__(self, config: ProbeConfigBase, *, database: Database) -> None:
        self.config = config
        self.database = database

    def check(self) -> ProbeReading:
        """Look once, within the timeout; never raises (a failure is a reading too)."""
        checked_at = utcnow()
        began = time.monotonic()
        try:
            outcome = self.measure(Deadline(self.config.timeout))
        except Exception as exc:
            logger.exception("probe %s failed", self.name)
            outcome = self.broken(f"{type(exc).__name__}: {exc}")
        return ProbeReading(
            up=outcome.up,
            duration_seconds=time.monotonic() - began,
            checked_at=checked_at,
            data=outcome.data,
            error=outcome.error,
        )

    @abstractmethod
    def measure(self, deadline: Deadline) -> Outcome:
        """Do the I/O of one check, finishing before ``deadline``."""

    @abstractmethod
    def broken(self, error: str) -> Outcome:
        """The outcome of a check that raised: a bug must look like a down probe."""

    @classmethod
    @abstractmethod
    def default_reading(cls) -> ProbeReading:
        """The answer before the first check, and for a probe that is not configured."""

    def restore(self) -> ProbeReading | None:
        """Load what the previous process knew; return the reading to serve until the
        first check, or None for the default reading."""
        return None

    @abstractmethod
    def describe_change(self, previous: str | None, reading: ProbeReading) -> StateChange | None:
        """The activity entry for moving from state ``previous`` (None: not known) to
        the state of ``reading``; None when the move is not news."""
