"""The activity log: what happened, in words, for people and dashboards.

``log_activity`` never blocks its caller on the database: entries go into a bounded
queue that one background thread writes in batches. When the queue is full the entry
is dropped and the drop is published (``jobwatch_activity_dropped_total``), because
a job must never stall on its own bookkeeping and a loss must never be silent.
"""

import json
import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from collector.events import ActivityDropped, ActivityRecorded, EventBus, utcnow
from collector.store.database import Database
from collector.store.models import ActivityLog

logger = logging.getLogger("jobwatch.activity")

ActivityType = Literal[
    "scrape", "sync", "extract", "job", "task", "probe", "alert", "user_action", "system", "error"
]
ActivityStatus = Literal["info", "success", "warning", "error"]
ACTIVITY_TYPES: tuple[str, ...] = get_args(ActivityType)
ACTIVITY_STATUSES: tuple[str, ...] = get_args(ActivityStatus)
_LOG_LEVELS = {"info": logging.INFO, "success": logging.INFO, "warning": logging.WARNING}
MAX_MESSAGE_LENGTH = 4000


def entry_view(row: ActivityLog) -> dict[str, Any]:
    """The API and SSE form of an entry."""
    return {
        "id": row.id,
        "timestamp": row.timestamp.isoformat(),
        "type": row.type,
        "status": row.status,
        "message": row.message,
        "details": row.details,
        "user": row.user,
        "job": row.job,
        "run_id": row.run_id,
    }


def _refused(exc: Exception) -> bool:
    """The database (or the driver, before sending) refused the rows themselves."""
    if isinstance(exc, DataError | IntegrityError):
        return True
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


class ActivityWriter:
    """Batches entries from any thread into the database on one background thread."""

    def __init__(
        self,
        database: Database,
        bus: EventBus,
        *,
        max_queue: int = 10_000,
        batch_size: int = 500,
        max_attempts: int = 5,
    ) -> None:
        self._database = database
        self._bus = bus
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=max_queue)
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._thread = threading.Thread(target=self._loop, name="activity-writer", daemon=True)
        self._started = False
        self._closed = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def queue_size(self) -> int:
        return self._queue.qsize()

    def submit(self, row: dict[str, Any]) -> bool:
        if self._closed:
            # Nothing would ever write it, and flush() would wait for it forever.
            self._bus.publish(ActivityDropped(reason="closed"))
            logger.warning("activity writer closed, dropped: %s", row["message"])
            return False
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self._bus.publish(ActivityDropped(reason="queue_full"))
            logger.warning("activity queue full, dropped: %s", row["message"])
            return False
        return True

    def flush(self) -> None:
        """Return once every entry submitted so far is committed (or counted as dropped).

        Also returns if the writer thread has died: what it left queued is lost either way.
        """
        if not self._started:
            return
        done = self._queue.all_tasks_done
        with done:
            while self._queue.unfinished_tasks and self._thread.is_alive():
                done.wait(0.1)

    def close(self) -> None:
        """Write what is queued, then stop the thread; called at shutdown."""
        self._closed = True
        if self._started and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first] if first is not None else []
            stop = first is None
            while not stop and len(batch) < self._batch_size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                else:
                    batch.append(item)
            try:
                if batch:
                    self._write(batch)
            except Exception:
                # A bug here must cost this batch, not the thread and every later entry.
                logger.exception("activity writer failed on a batch of %d", len(batch))
                self._bus.publish(ActivityDropped(reason="write_error", count=len(batch)))
            finally:
                for _ in range(len(batch) + (1 if stop else 0)):
                    self._queue.task_done()
            if stop:
                return

    def _insert(self, batch: list[dict[str, Any]]) -> list[int]:
        with self._database.write() as session:
            return list(
                session.scalars(
                    insert(ActivityLog).returning(ActivityLog.id, sort_by_parameter_order=True),
                    batch,
                ).all()
            )

    def _write(self, batch: list[dict[str, Any]]) -> None:
        """Retry while the database is away; when it refuses the data instead (retrying
        cannot help), write the entries one by one so only the refused ones are dropped."""
        for attempt in range(1, self._max_attempts + 1):
            try:
                ids = self._insert(batch)
                break
            except Exception as exc:
                if _refused(exc):
                    if len(batch) > 1:
                        for row in batch:
                            self._write([row])
                        return
                    logger.exception("activity entry refused, dropped: %s", batch[0]["message"])
                    self._bus.publish(ActivityDropped(reason="write_error"))
                    return
                logger.exception("activity write failed (attempt %d)", attempt)
                if attempt == self._max_attempts:
                    self._bus.publish(ActivityDropped(reason="write_error", count=len(batch)))
                    return
                threading.Event().wait(min(0.1 * 2**attempt, 2.0))
        for row_id, row in zip(ids, batch, strict=True):
            entry = entry_view(ActivityLog(id=row_id, **row))
            self._bus.publish(ActivityRecorded(entry=entry, timestamp=row["timestamp"]))


_writer: ActivityWriter | None = None
_writer_lock = threading.Lock()


@contextmanager
def installed(writer: ActivityWriter) -> Iterator[ActivityWriter]:
    """Route ``log_activity`` to ``writer`` for the life of a collector."""
    global _writer
    with _writer_lock:
        previous, _writer = _writer, writer
    try:
        yield writer
    finally:
        with _writer_lock:
            _writer = previous


def _jsonable(details: dict[str, Any] | None) -> dict[str, Any] | None:
    """Values JSON cannot hold (datetimes, sets, objects) as their text, so the entry is kept."""
    if details is None:
        return None
    try:
        json.dumps(details)
    except (TypeError, ValueError):
        return json.loads(json.dumps(details, default=str))
    return details


def make_row(
    type: str,
    message: str,
    *,
    status: str = "info",
    details: dict[str, Any] | None = None,
    user: str | None = None,
    job: str | None = None,
    run_id: int | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """A validated row; raises ValueError naming the bad value and the allowed ones."""
    if type not in ACTIVITY_TYPES:
        raise ValueError(f"activity type {type!r} is not one of {', '.join(ACTIVITY_TYPES)}")
    if status not in ACTIVITY_STATUSES:
        raise ValueError(f"activity status {status!r} is not one of {', '.join(ACTIVITY_STATUSES)}")
    if details is not None and not isinstance(details, dict):
        raise ValueError("activity details must be a JSON object (a dict)")
    return {
        "timestamp": timestamp or utcnow(),
        "type": type,
        "status": status,
        "message": str(message)[:MAX_MESSAGE_LENGTH],
        "details": _jsonable(details),
        "user": user,
        "job": job,
        "run_id": run_id,
    }


def log_activity(
    type: str,
    message: str,
    *,
    status: str = "info",
    details: dict[str, Any] | None = None,
    user: str | None = None,
    job: str | None = None,
    run_id: int | None = None,
) -> None:
    """Record an activity entry from any thread without waiting for the database."""
    row = make_row(type, message, status=status, details=details, user=user, job=job, run_id=run_id)
    logger.log(_LOG_LEVELS.get(status, logging.ERROR), "[%s] %s", type, row["message"])
    writer = _writer
    if writer is not None:
        writer.submit(row)
