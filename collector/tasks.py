"""Internal background tasks (retention cleanup, probes): scheduled, timed and recorded.

Each pass's outcome lands in ``task_status`` so ``GET /background-tasks/status``
shows what every task last did, including the error of a pass that failed.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from collector.events import EventBus, TaskFinished, utcnow
from collector.store.database import Database
from collector.store.models import TaskStatus

logger = logging.getLogger(__name__)
TaskFunction = Callable[[], dict[str, Any] | None]


class TaskFailed(Exception):
    """A pass that ran but found a problem: recorded as an error, with its result kept."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class TaskSpec:
    name: str
    func: TaskFunction
    interval: float


class BackgroundTasks:
    def __init__(self, database: Database, bus: EventBus, scheduler: BaseScheduler) -> None:
        self._database = database
        self._bus = bus
        self._scheduler = scheduler
        self._specs: dict[str, TaskSpec] = {}
        self._running: set[str] = set()
        self._lock = threading.Lock()

    def add(self, name: str, func: TaskFunction, interval: float, *, run_now: bool = True) -> None:
        """Run ``func`` every ``interval`` seconds (and at once when ``run_now``)."""
        self._specs[name] = TaskSpec(name, func, interval)
        first = utcnow() if run_now else utcnow() + timedelta(seconds=interval)
        self._scheduler.add_job(
            self.run_once,
            IntervalTrigger(seconds=interval),
            args=[name],
            id=f"task:{name}",
            name=name,
            next_run_time=first,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(int(interval), 1),
            replace_existing=True,
        )

    def names(self) -> list[str]:
        return list(self._specs)

    def next_run(self, name: str) -> datetime | None:
        job = self._scheduler.get_job(f"task:{name}")
        return job.next_run_time if job is not None else None

    def run_once(self, name: str) -> dict[str, Any] | None:
        """One pass of a task, recorded; never raises (the error is the recorded status)."""
        spec = self._specs[name]
        with self._lock:
            if name in self._running:
                return None
            self._running.add(name)
        started = utcnow()
        began = time.monotonic()
        result: dict[str, Any] | None = None
        error: str | None = None
        try:
            result = spec.func()
        except TaskFailed as failed:
            result, error = failed.result, str(failed)
        except Exception as exc:
            logger.exception("background task %s failed", name)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                self._running.discard(name)
        status = "error" if error else "ok"
        record = {
            "last_run": started,
            "next_run": self.next_run(name),
            "status": status,
            "last_error": error,
            "last_result": {**(result or {}), "duration_seconds": time.monotonic() - began},
        }
        try:
            with self._database.write() as session:
                row = session.get(TaskStatus, name) or TaskStatus(task_name=name)
                for key, value in record.items():
                    setattr(row, key, value)
                session.add(row)
        except Exception:
            logger.exception("could not record the status of task %s", name)
        self._bus.publish(TaskFinished(task_name=name, status=status, result=result, error=error))
        return result
