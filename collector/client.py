"""Report runs of jobs that run elsewhere (cron, Celery, CI) to a jobwatch collector.

    from collector.client import track_run

    with track_run("crm_contacts") as run:
        for batch in batches():
            run.progress(created=len(batch))

Reporting must never break the job it reports on. A collector that does not answer
gets a short retry window (about two seconds), then a warning, and the whole report
is spooled to disk (``collector.spool``) and delivered by the next tracked run or
``jobwatch exec``. Every request carries the caller's W3C trace context, so the run
is recorded with the caller's trace id and its span joins the caller's trace.
"""

import json
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from contextlib import ContextDecorator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx
from opentelemetry import propagate

from collector.counts import add_counts, zero_counts
from collector.spool import Spool, SpooledRun, default_spool_dir

logger = logging.getLogger("jobwatch.client")
API = "/api/v1"
DEFAULT_SERVER = "http://127.0.0.1:9108"
RETRY_WINDOW = 2.0
PROGRESS_INTERVAL = 1.0
_TIMEOUT = httpx.Timeout(3.0, connect=1.0)
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
Warn = Callable[[str], None]


class Unreachable(Exception):
    """No answer from the collector within the retry window."""


class Rejected(Exception):
    """The collector answered 4xx: retrying the same report cannot help."""

    def __init__(self, status_code: int, detail: Any) -> None:
        self.status_code = status_code
        super().__init__(f"{status_code}: {detail}")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Transport:
    """POSTs to one collector, retrying transport errors and 5xx within a short window."""

    def __init__(self, server: str, token: str | None = None) -> None:
        self.server = server.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.server, headers=headers, timeout=_TIMEOUT)

    def post(
        self, path: str, body: dict[str, Any], *, headers: dict[str, str], patient: bool = True
    ) -> dict[str, Any]:
        """The JSON answer; Unreachable or Rejected otherwise. ``patient`` allows retries."""
        deadline = time.monotonic() + (RETRY_WINDOW if patient else 0.0)
        delay = 0.1
        while True:
            try:
                response = self._http.post(f"{API}{path}", json=body, headers=headers)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if response.status_code < 400:
                    return response.json()
                if response.status_code not in _RETRY_STATUSES and response.status_code < 500:
                    raise Rejected(response.status_code, _detail(response))
                problem = f"HTTP {response.status_code}"
            if time.monotonic() + delay > deadline:
                raise Unreachable(f"cannot reach the collector at {self.server} ({problem})")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def close(self) -> None:
        self._http.close()


def _detail(response: httpx.Response) -> Any:
    try:
        return response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:500]


def replay_spool(transport: Transport, spool: Spool, warn: Warn = logger.warning) -> int:
    """Deliver spooled reports for this collector; never raises into the job that asked."""
    try:
        return _replay(transport, spool, warn)
    except Exception as exc:
        warn(f"jobwatch: could not replay the spool in {spool.directory}: {exc!r}")
        return 0


def _replay(transport: Transport, spool: Spool, warn: Warn) -> int:
    """Oldest first; stops at the first sign the collector is down."""
    delivered = 0
    for path, record in spool.pending(transport.server, warn):
        headers = record.trace_headers
        try:
            run = transport.post("/runs", record.start, headers=headers, patient=False)
            try:
                transport.post(
                    f"/runs/{run['id']}/finish", record.finish, headers=headers, patient=False
                )
            except Rejected as exc:
                if exc.status_code != 409:  # 409: that finish had already arrived
                    raise
        except Unreachable:
            break
        except Rejected as exc:
            if exc.status_code in (401, 403):
                warn(
                    f"jobwatch: spooled reports kept in {spool.directory}: the collector said {exc}"
                )
                break
            kept = spool.reject(path)
            warn(f"jobwatch: the collector refused a spooled report ({exc}); kept as {kept}")
            continue
        spool.remove(path)
        delivered += 1
    if delivered:
        warn(f"jobwatch: delivered {delivered} spooled report(s) to {transport.server}")
    return delivered


class RunReport:
    """The report of one external run: start, progress, finish, or all of it to the spool.

    Once the collector has failed to answer, this run stops waiting on it: progress
    is no longer sent, and the finish gets one quick attempt before it is spooled.
    """

    def __init__(
        self,
        job: str,
        transport: Transport,
        spool: Spool,
        *,
        params: dict[str, Any] | None = None,
        client_run_id: str | None = None,
        trace_headers: dict[str, str] | None = None,
        warn: Warn = logger.warning,
    ) -> None:
        self.job = job
        self.run_id: int | None = None
        self._transport = transport
        self._spool = spool
        self._headers = trace_headers or {}
        self._warn = warn
        self._start = {
            "job": job,
            "params": params or {},
            "client_run_id": client_run_id or uuid.uuid4().hex,
            "started_at": _now(),
        }
        self._offline = False
        self._silenced = False  # refused or ended by the collector: nothing more to send

    def _went_offline(self, exc: Unreachable) -> None:
        if not self._offline:
            self._offline = True
            self._warn(f"jobwatch: {exc}; carrying on, the report of {self.job} will be spooled")

    def _refused(self, what: str, exc: Rejected) -> None:
        self._silenced = True
        self._warn(f"jobwatch: the collector refused the {what} of {self.job}: {exc}")

    def _send(self, what: str, path: str, body: dict[str, Any], *, patient: bool) -> Any:
        """The answer, or None once the reason is noted; never raises into the job."""
        try:
            return self._transport.post(path, body, headers=self._headers, patient=patient)
        except Unreachable as exc:
            self._went_offline(exc)
        except Rejected as exc:
            self._refused(what, exc)
        except Exception as exc:  # whatever it is, it must not cost the job its run
            self._went_offline(Unreachable(f"could not report to the collector: {exc!r}"))
        return None

    def start(self) -> None:
        run = self._send("start", "/runs", self._start, patient=True)
        self.run_id = run["id"] if run else None

    def progress(self, totals: dict[str, int], message: str | None = None) -> None:
        """Send cumulative totals now; the caller decides how often."""
        if self.run_id is None or self._offline or self._silenced:
            return
        body: dict[str, Any] = {**totals, "message": message}
        self._send("progress", f"/runs/{self.run_id}/progress", body, patient=True)

    def finish(
        self,
        status: str,
        totals: dict[str, int],
        *,
        message: str | None = None,
        error: str | None = None,
        log_tail: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        """Deliver the end (and the start, if it never arrived), else spool the whole run."""
        if self._silenced:
            return
        body = {
            "status": status,
            **totals,
            "message": message,
            "error": error,
            "log_tail": log_tail,
            "result": result,
            "finished_at": _now(),
        }
        patient = not self._offline
        if self.run_id is None:
            run = self._send("start", "/runs", self._start, patient=patient)
            self.run_id = run["id"] if run else None
        if self.run_id is not None:
            finish = f"/runs/{self.run_id}/finish"
            if self._send("finish", finish, body, patient=patient) is not None:
                return
        if not self._silenced:
            self._spool_report(body)

    def _spool_report(self, finish: dict[str, Any]) -> None:
        record = SpooledRun(self._transport.server, self._start, finish, self._headers)
        try:
            path = self._spool.save(record)
        except (OSError, TypeError, ValueError) as exc:
            self._warn(f"jobwatch: could not spool the report of {self.job} ({exc}); it is lost")
            return
        self._warn(f"jobwatch: spooled the report of {self.job} to {path}")


class TrackedRun:
    """What a ``with track_run(...)`` block holds: counts add up here and go out as totals."""

    def __init__(self, report: RunReport) -> None:
        self._report = report
        self._lock = threading.Lock()
        self._counts = zero_counts()
        self._message: str | None = None
        self._result: dict[str, Any] = {}
        self._last_sent = 0.0
        self._ended = False
        self._told_late = False

    def _late(self, what: str) -> bool:
        """True once the run has ended (call with the lock held): say so once, then ignore."""
        if self._ended and not self._told_late:
            self._told_late = True
            logger.warning(
                "jobwatch: run.%s() after the run of %s ended is ignored", what, self._report.job
            )
        return self._ended

    @property
    def run_id(self) -> int | None:
        """The collector's id for this run; None while the collector cannot be reached."""
        return self._report.run_id

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def progress(
        self,
        *,
        processed: int = 0,
        created: int = 0,
        updated: int = 0,
        failed: int = 0,
        message: str | None = None,
    ) -> None:
        """Add to the counts; they are sent at most once a second (and always at the end)."""
        with self._lock:
            if self._late("progress"):
                return
            add_counts(
                self._counts,
                processed=processed,
                created=created,
                updated=updated,
                failed=failed,
            )
            if message is not None:
                self._message = message
            now = time.monotonic()
            due = now - self._last_sent >= PROGRESS_INTERVAL
            if due:
                self._last_sent = now
            totals, latest = dict(self._counts), self._message
        if due:
            self._report.progress(totals, latest)

    def set_result(self, **values: Any) -> None:
        """Merge values into the run's JSON result, sent with the finish.

        Raises TypeError here, where the value is set, when it cannot be JSON.
        """
        json.dumps(values)
        with self._lock:
            if self._late("set_result"):
                return
            self._result.update(values)

    def finish(self, status: str, *, error: str | None = None, log_tail: str | None = None) -> None:
        with self._lock:
            self._ended = True
            totals, message, result = dict(self._counts), self._message, dict(self._result)
        self._report.finish(
            status, totals, message=message, error=error, log_tail=log_tail, result=result or None
        )


@dataclass(frozen=True)
class _Entered:
    tracker: "RunTracker"
    run: TrackedRun
    transport: Transport


# The runs entered and not yet exited here, innermost last. Kept per context, not on the
# tracker, so one tracker entered from several threads (or tasks), or inside itself,
# gives each ``with`` its own run.
_entered: ContextVar[tuple[_Entered, ...]] = ContextVar("jobwatch_tracked_runs", default=())


def current_run() -> TrackedRun | None:
    """The innermost tracked run here, for code under ``@track_run(...)`` that reports counts.

    A thread starts without it (Python does not copy context into new threads): pass
    the run itself to worker threads; ``run.progress`` may be called from any thread.
    """
    entered = _entered.get()
    return entered[-1].run if entered else None


def _outcome(run: TrackedRun, exc: BaseException | None) -> tuple[str, str | None, str | None]:
    """Status, error and log tail: an exception fails the run, an interrupt cancels it."""
    if exc is None or (isinstance(exc, SystemExit) and exc.code in (0, None)):
        failed = run.counts()["failed"]
        return (
            ("partial", f"{failed} record(s) failed", None) if failed else ("success", None, None)
        )
    error = f"{type(exc).__name__}: {exc}"
    tail = "".join(traceback.format_exception(exc))
    if isinstance(exc, Exception | SystemExit):
        return "failed", error, tail
    return "cancelled", error, tail


class RunTracker(ContextDecorator):
    """Context manager and decorator; each ``with`` (or decorated call) is one run."""

    def __init__(
        self,
        job: str,
        *,
        server: str | None,
        token: str | None,
        params: dict[str, Any] | None,
        client_run_id: str | None,
    ) -> None:
        self._args: dict[str, Any] = {
            "job": job,
            "server": server,
            "token": token,
            "params": params,
            "client_run_id": client_run_id,
        }

    def _recreate_cm(self) -> "RunTracker":
        """A fresh tracker per decorated call, so calls (even concurrent ones) never share a run."""
        job = self._args["job"]
        return RunTracker(job, **{k: v for k, v in self._args.items() if k != "job"})

    def __enter__(self) -> TrackedRun:
        server = self._args["server"] or os.environ.get("JOBWATCH_SERVER") or DEFAULT_SERVER
        token = self._args["token"] or os.environ.get("JOBWATCH_API_TOKEN")
        transport = Transport(server, token)
        spool = Spool(default_spool_dir())
        replay_spool(transport, spool)
        trace_headers: dict[str, str] = {}
        propagate.inject(trace_headers)
        report = RunReport(
            self._args["job"],
            transport,
            spool,
            params=self._args["params"],
            client_run_id=self._args["client_run_id"],
            trace_headers=trace_headers,
        )
        report.start()
        run = TrackedRun(report)
        _entered.set((*_entered.get(), _Entered(self, run, transport)))
        return run

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        entered = _entered.get()
        mine = [index for index, entry in enumerate(entered) if entry.tracker is self]
        if not mine:  # exited in another context than it was entered in: nothing to finish here
            logger.warning(
                "jobwatch: a run of %s exited where it was not entered", self._args["job"]
            )
            return
        entry = entered[mine[-1]]
        _entered.set(entered[: mine[-1]] + entered[mine[-1] + 1 :])
        try:
            status, error, tail = _outcome(entry.run, exc)
            entry.run.finish(status, error=error, log_tail=tail)
        finally:
            entry.transport.close()


def track_run(
    job: str,
    *,
    server: str | None = None,
    token: str | None = None,
    params: dict[str, Any] | None = None,
    client_run_id: str | None = None,
) -> RunTracker:
    """Report the run of ``job`` (an ``external`` job in the collector's config).

    ``server`` and ``token`` default to ``$JOBWATCH_SERVER`` (else the local default
    collector) and ``$JOBWATCH_API_TOKEN``. ``client_run_id`` names one run: give it
    only to ``with``, never to a decorator that runs many times.
    """
    return RunTracker(job, server=server, token=token, params=params, client_run_id=client_run_id)
