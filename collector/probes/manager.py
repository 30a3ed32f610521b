"""Runs the configured probes on the background scheduler and caches their readings.

The API and ``/metrics`` only ever read the cache, so they answer at once however
long a check takes. A reading whose state differs from the previous one (WARP
dropped, acexy lost or back) becomes one activity entry; the previous state is taken
from the probe's last recorded task result, so a restart does not repeat the entry.
"""

import logging
import threading
from dataclasses import dataclass
from typing import Any

from collector.activity import log_activity
from collector.events import Event, EventBus
from collector.probes import PROBES
from collector.probes.base import Probe, ProbeConfigBase, ProbeReading
from collector.store.database import Database
from collector.store.models import TaskStatus
from collector.tasks import BackgroundTasks, TaskFailed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeStateChanged(Event):
    """A probe's state (streams source, WARP status) differs from the previous check."""

    probe: str
    previous: str | None
    state: str
    reading: ProbeReading


def task_name(probe: str) -> str:
    return f"probe:{probe}"


class ProbeManager:
    def __init__(
        self,
        configs: dict[str, ProbeConfigBase | None],
        *,
        database: Database,
        bus: EventBus,
        tasks: BackgroundTasks,
    ) -> None:
        unknown = sorted(set(configs) - set(PROBES))
        if unknown:
            raise ValueError(f"unknown probes {unknown}; known: {sorted(PROBES)}")
        self._database = database
        self._bus = bus
        self._tasks = tasks
        self._probes: dict[str, Probe] = {
            name: PROBES[name](config, database=database)
            for name, config in configs.items()
            if config is not None
        }
        self._readings = {name: cls.default_reading() for name, cls in PROBES.items()}
        self._states: dict[str, str | None] = dict.fromkeys(self._probes)
        self._lock = threading.Lock()

    def configured(self) -> list[str]:
        return list(self._probes)

    def reading(self, name: str) -> ProbeReading:
        """The last reading, instantly; the default one before the first check."""
        with self._lock:
            return self._readings[name]

    def start(self) -> None:
        """Restore what the previous process knew, then schedule every configured probe."""
        for name, probe in self._probes.items():
            self._restore(name, probe)
            self._tasks.add(
                task_name(name),
                lambda name=name: self._task_pass(name),
                probe.config.interval,
            )

    def _restore(self, name: str, probe: Probe) -> None:
        try:
            restored = probe.restore()
            with self._database.read() as session:
                row = session.get(TaskStatus, task_name(name))
        except Exception:
            logger.exception("could not restore probe %s; starting from its default reading", name)
            return
        last: dict[str, Any] = (row.last_result if row is not None else None) or {}
        with self._lock:
            if restored is not None:
                self._readings[name] = restored
            self._states[name] = last.get(probe.state_field)

    def _task_pass(self, name: str) -> dict[str, Any]:
        """One scheduled check; a probe that is down makes its task status ``error``."""
        reading = self.check(name)
        if not reading.up:
            raise TaskFailed(reading.error or f"{name} is unavailable", reading.as_result())
        return reading.as_result()

    def check(self, name: str) -> ProbeReading:
        """Check probe ``name`` now (on the caller's thread) and cache the reading."""
        probe = self._probes[name]
        reading = probe.check()
        state = reading.data[probe.state_field]
        with self._lock:
            self._readings[name] = reading
            previous, self._states[name] = self._states[name], state
        if state != previous:
            change = probe.describe_change(previous, reading)
            if change is not None:
                log_activity(
                    "probe",
                    change.message,
                    status=change.status,
                    details={"probe": name, "previous": previous, "state": state, **change.details},
                )
            self._bus.publish(
                ProbeStateChanged(probe=name, previous=previous, state=state, reading=reading)
            )
        return reading
