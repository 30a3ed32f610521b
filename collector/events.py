"""In-process publish/subscribe: how the collector tells exporters, SSE and probes what happened.

The collector records first and publishes after, so a subscriber never sees an event
for something that is not in the database. Subscribers run on the publisher's thread
and must be quick; a failing subscriber is logged and never breaks the publisher.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Event:
    """Base of every event; ``sse_type`` names it on ``GET /events``."""

    timestamp: datetime = field(default_factory=utcnow, kw_only=True)
    sse_type = "event"

    def sse_data(self) -> dict[str, Any] | None:
        """The JSON shown on ``GET /events``; None keeps the event internal."""
        return None


@dataclass(frozen=True)
class ActivityRecorded(Event):
    """An activity entry was committed (``entry`` is its API form)."""

    entry: dict[str, Any]
    sse_type = "activity"

    def sse_data(self) -> dict[str, Any]:
        return self.entry


@dataclass(frozen=True)
class RunChanged(Event):
    """A run changed status or counts; ``run`` is its API form (see ``runs.run_view``)."""

    run: dict[str, Any]
    previous_status: str | None
    sse_type = "run"

    def sse_data(self) -> dict[str, Any]:
        return self.run

    @property
    def finished(self) -> bool:
        return self.run["finished_at"] is not None and self.previous_status != self.run["status"]


@dataclass(frozen=True)
class ScheduleMissed(Event):
    """APScheduler skipped a fire time (the process was busy, asleep or down)."""

    job: str
    scheduled_at: datetime


@dataclass(frozen=True)
class ActivityDropped(Event):
    """Activity entries were dropped instead of written; never silent."""

    reason: str
    count: int = 1


@dataclass(frozen=True)
class RetentionDeleted(Event):
    count: int


@dataclass(frozen=True)
class TaskFinished(Event):
    """An internal background task (retention, a probe) finished one pass."""

    task_name: str
    status: str
    result: dict[str, Any] | None
    error: str | None


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns the function that removes it."""
        with self._lock:
            self._subscribers = [*self._subscribers, subscriber]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s is not subscriber]

        return unsubscribe

    def publish(self, event: Event) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                logger.exception(
                    "event subscriber %r failed on %s", subscriber, type(event).__name__
                )
