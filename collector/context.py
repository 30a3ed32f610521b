"""The handle a running job holds: the only way job code talks back to jobwatch."""

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from opentelemetry import trace
from opentelemetry.trace import Span

from collector.activity import log_activity
from collector.counts import COUNT_NAMES, LOG_TAIL_LINES, add_counts, zero_counts

CancelReason = Literal["cancelled", "timed_out"]


@dataclass
class LiveState:
    """What a run has reported so far; read by the API while the run is live."""

    counts: dict[str, int] = field(default_factory=zero_counts)
    message: str | None = None
    log_tail: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))
    result: dict[str, Any] = field(default_factory=dict)


class RunContext:
    """Passed to python jobs (and used by every kind) to report progress and obey cancel.

    Counts are additive through :meth:`progress`; a kind whose source reports
    cumulative totals (the ``@jobwatch`` line protocol) uses :meth:`set_totals`.
    """

    def __init__(
        self,
        *,
        run_id: int,
        job: str,
        params: dict[str, Any],
        dry_run: bool = False,
        on_change: Callable[["RunContext"], None] = lambda _ctx: None,
        on_process: Callable[[int, int], None] = lambda _run_id, _pid: None,
    ) -> None:
        self.run_id = run_id
        self.job = job
        self.params = params
        self.dry_run = dry_run
        self.state = LiveState()
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._cancel_reason: CancelReason | None = None
        self._on_change = on_change
        self._on_process = on_process
        self._tracer = trace.get_tracer(__name__)

    @property
    def cancelled(self) -> bool:
        """True once the run is cancelled or timed out; long loops should check it."""
        return self._cancel.is_set()

    @property
    def cancel_reason(self) -> CancelReason | None:
        return self._cancel_reason

    def request_cancel(self, reason: CancelReason) -> None:
        with self._lock:
            if self._cancel_reason is None:
                self._cancel_reason = reason
        self._cancel.set()

    def wait(self, seconds: float) -> bool:
        """Sleep that wakes on cancel; returns True when the run was cancelled meanwhile."""
        return self._cancel.wait(seconds)

    def progress(
        self,
        *,
        processed: int = 0,
        created: int = 0,
        updated: int = 0,
        failed: int = 0,
        message: str | None = None,
    ) -> None:
        """Add to the run's counts."""
        with self._lock:
            add_counts(
                self.state.counts,
                processed=processed,
                created=created,
                updated=updated,
                failed=failed,
            )
            if message is not None:
                self.state.message = message
        self._on_change(self)

    def set_totals(self, totals: dict[str, int], message: str | None = None) -> None:
        """Replace counts with cumulative totals reported by the job itself."""
        with self._lock:
            for name in COUNT_NAMES:
                if name in totals:
                    self.state.counts[name] = int(totals[name])
            if message is not None:
                self.state.message = message
        self._on_change(self)

    def attach_process(self, pid: int) -> None:
        """Record the process group a kind started, so a crash never orphans it for good."""
        self._on_process(self.run_id, pid)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.state.counts)

    def output(self, line: str) -> None:
        """Keep a line of the job's own output in the capped log tail.

        NUL becomes U+FFFD, as undecodable bytes do: PostgreSQL text cannot hold it.
        """
        with self._lock:
            self.state.log_tail.append(line.rstrip("\n").replace("\x00", "\ufffd"))

    def log_tail(self) -> str:
        with self._lock:
            return "\n".join(self.state.log_tail)

    def set_result(self, **values: Any) -> None:
        """Merge values into the run's JSON result."""
        with self._lock:
            self.state.result.update(values)

    def log(self, message: str, *, status: str = "info", type: str = "job", **details: Any) -> None:
        """Write an activity entry tied to this run."""
        log_activity(
            type,
            message,
            status=status,
            details=details or None,
            job=self.job,
            run_id=self.run_id,
        )

    @contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[Span]:
        """A child span of the run's span for one step (a fetch, a batch, a write)."""
        with self._tracer.start_as_current_span(name, attributes=attributes) as span:
            yield span
