"""Reports of external runs that could not be delivered, kept on disk until a later run sends them.

One JSON file per run holds the complete report (the start and finish bodies, which
carry the real times and the client run id, plus the trace headers), so a replay is
two idempotent requests and a run is never half-delivered from the spool. Files are
written atomically and readable by their owner only: a log tail may hold secrets.
Tokens are never written; a record is replayed only to the server it was meant for,
with that invocation's token.
"""

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SPOOL_DIR_ENV = "JOBWATCH_SPOOL_DIR"
RECORD_SUFFIX = ".json"
REJECTED_SUFFIX = ".rejected"


def default_spool_dir() -> Path:
    """``$JOBWATCH_SPOOL_DIR``, else ``$XDG_STATE_HOME/jobwatch/spool`` (``~/.local/state``)."""
    configured = os.environ.get(SPOOL_DIR_ENV)
    if configured:
        return Path(configured)
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "jobwatch" / "spool"


@dataclass(frozen=True)
class SpooledRun:
    server: str
    start: dict[str, Any]
    finish: dict[str, Any]
    trace_headers: dict[str, str]


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def save(self, record: SpooledRun) -> Path:
        """Write ``record``; the name sorts by time so replays go oldest first."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / f"{time.time_ns()}-{uuid.uuid4().hex}{RECORD_SUFFIX}"
        partial = path.with_suffix(".tmp")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(asdict(record), file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
        return path

    def pending(
        self, server: str, warn: Callable[[str], None] | None = None
    ) -> Iterator[tuple[Path, SpooledRun]]:
        """Records for ``server``, oldest first; an unreadable one is set aside, not retried."""
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob(f"*{RECORD_SUFFIX}")):
            try:
                record = _load(path)
            except FileNotFoundError:
                continue  # another process delivered it meanwhile
            except (OSError, ValueError, TypeError) as exc:
                target = self.reject(path)
                if warn is not None:
                    warn(
                        f"jobwatch: unreadable spooled report {path} ({exc}); set aside as {target}"
                    )
                continue
            if record.server.rstrip("/") == server.rstrip("/"):
                yield path, record

    def remove(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def reject(self, path: Path) -> Path:
        """Keep a record the collector refused, for a person to look at, out of the replay."""
        target = path.with_suffix(REJECTED_SUFFIX)
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, target)
        return target


def _load(path: Path) -> SpooledRun:
    """The record in ``path``; ValueError or TypeError when it is not one this code wrote."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    record = SpooledRun(**data)
    if not isinstance(record.server, str):
        raise ValueError("server is not a string")
    for name in ("start", "finish", "trace_headers"):
        if not isinstance(getattr(record, name), dict):
            raise ValueError(f"{name} is not an object")
    if not all(isinstance(value, str) for value in record.trace_headers.values()):
        raise ValueError("a trace header is not a string")
    return record
