"""CLI commands that talk to a running collector through its API."""

import itertools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from collector.cli.client import NOT_JOBWATCH, Client, ClientError, Unreachable, server_settings

API = "/api/v1"
FINAL = {"success", "partial", "failed", "cancelled", "timed_out", "abandoned"}
PARTIAL_EXIT = 3
INTERRUPTED_EXIT = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
# --follow: the pauses between attempts to get a collector back (the last one repeats) ...
RECONNECT_DELAYS = (0.25, 0.5, 1.0, 2.0, 5.0)
# ... and how much silence on /events means a dead connection (it sends a heartbeat every 15s).
STREAM_SILENCE = 45.0
CATCH_UP_PAGES = 10  # at most this many pages of 1000 entries logged while it was away
STATUS_STYLE = {
    "success": "green",
    "partial": "yellow",
    "warning": "yellow",
    "failed": "red",
    "error": "red",
    "timed_out": "red",
    "abandoned": "red",
    "cancelled": "magenta",
    "running": "cyan",
    "queued": "blue",
}
out = Console()
err = Console(stderr=True)

ServerOption = Annotated[
    str | None, typer.Option("--server", help="collector URL (default: from the config's listen)")
]
ConfigOption = Annotated[str | None, typer.Option("--config", "-c", help="config file")]


def _connect(server: str | None, config: str | None) -> Client:
    url, token = server_settings(config)
    try:
        return Client(server or url, token)
    except ClientError as error:
        raise _fail(error) from None


def _fail(error: ClientError) -> typer.Exit:
    err.print(str(error), markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(error.code)


def _notice(message: str) -> None:
    err.print(f"jobwatch: {message}", markup=False, highlight=False, soft_wrap=True)


@contextmanager
def _talking(client: Client) -> Iterator[None]:
    """Whatever goes wrong with the collector becomes one line on stderr and an exit code."""
    try:
        yield
    except ClientError as error:
        raise _fail(error) from None
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        # JSON, but not of the shape this CLI reads: another API, or another version.
        problem = f"{type(exc).__name__}: {exc}"
        unexpected = f"unexpected answer from {client.server} ({problem}); {NOT_JOBWATCH}"
        raise _fail(ClientError(unexpected)) from None


def _print_table(table: Table) -> None:
    """Fit a terminal; into a pipe keep the natural width, so no job name is cut or wrapped."""
    if not out.is_terminal:
        natural = out.measure(table, options=out.options.update_width(10_000)).maximum
        out.width = max(out.width, natural)
    out.print(table)


def _styled(status: str | None) -> str:
    if not status:
        return "-"
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/]" if style else status


def _when(value: str | None) -> str:
    if not value:
        return "-"
    moment = datetime.fromisoformat(value)
    seconds = (moment - datetime.now(UTC)).total_seconds()
    magnitude = abs(seconds)
    if magnitude < 90:
        text = f"{magnitude:.0f}s"
    elif magnitude < 5400:
        text = f"{magnitude / 60:.0f}m"
    elif magnitude < 172800:
        text = f"{magnitude / 3600:.1f}h"
    else:
        text = f"{magnitude / 86400:.0f}d"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _jobs_table(jobs: list[dict[str, Any]]) -> Table:
    table = Table(title="Jobs", caption=None if jobs else "no jobs configured")
    for column in ("job", "kind", "schedule", "last status", "last run", "next run", "success"):
        table.add_column(column)
    for job in jobs:
        last = job.get("last_run") or {}
        ratio = job.get("success_ratio")
        table.add_row(
            job["name"],
            job["kind"],
            job.get("schedule") or "manual",
            _styled(job.get("last_status")),
            _when(last.get("started_at") or last.get("queued_at")),
            _when(job.get("next_run")),
            f"{ratio:.0%}" if ratio is not None else "-",
        )
    return table


def jobs(server: ServerOption = None, config: ConfigOption = None) -> None:
    """Table of jobs: kind, schedule, last status, last run, next run."""
    client = _connect(server, config)
    with _talking(client):
        _print_table(_jobs_table(client.get(f"{API}/jobs")))


def parse_params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ClientError(f"--param {pair!r}: expected KEY=VALUE", 2)
        params[key.strip()] = value
    return params


def _counts(run: dict[str, Any]) -> str:
    return (
        f"{run['records_processed']} processed, {run['records_created']} created, "
        f"{run['records_updated']} updated, {run['records_failed']} failed"
    )


def _follow_run(client: Client, run: dict[str, Any]) -> dict[str, Any]:
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task(f"run #{run['id']} {run['status']}", total=None, counts="")
        while run["status"] not in FINAL:
            time.sleep(0.5)
            run = client.get(f"{API}/runs/{run['id']}")
            total = run["result"].get("total") if isinstance(run.get("result"), dict) else None
            progress.update(
                task,
                description=f"run #{run['id']} {run['status']}",
                counts=_counts(run),
                completed=run["records_processed"],
                total=total if isinstance(total, int) else None,
            )
    return run


def trigger(
    name: Annotated[str, typer.Argument(help="job name")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE")] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="follow the run; exit 0 success, 3 partial, 1 any other end, 130 on Ctrl-C",
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="record the run as a dry run")] = False,
    server: ServerOption = None,
    config: ConfigOption = None,
) -> None:
    """Start a run through the API; print it as JSON, or follow it with --wait.

    With --wait the exit status is the run's end: 0 success; 3 partial (it finished,
    but some records failed: accept it with `|| [ $? -eq 3 ]`); 1 failed, timed out,
    cancelled or abandoned. Ctrl-C stops waiting with 130 and the run goes on.
    Otherwise 1 means the collector could not be asked, 2 a usage error (a bad
    --param or server URL, or params the job refuses).
    """
    client = _connect(server, config)
    with _talking(client):
        body = {"params": parse_params(param or []), "dry_run": dry_run}
        run = client.post(f"{API}/jobs/{name}/runs", body)
        try:  # from here on the run exists: an interrupt leaves it running, and says how to watch
            err.print(f"run #{run['id']} of {name} {run['status']}", markup=False, highlight=False)
            if not wait:
                typer.echo(json.dumps(run, indent=2))
                return
            run = _follow_run(client, run)
        except KeyboardInterrupt:
            _notice(
                f"stopped waiting; run #{run['id']} of {name} goes on: watch it with "
                f"`jobwatch activity --follow --job {name}` or `jobwatch status`"
            )
            raise typer.Exit(INTERRUPTED_EXIT) from None
        line = f"run #{run['id']} of {name} ended {_styled(run['status'])}: {_counts(run)}"
        error = f"\n[red]{escape(run['error'])}[/]" if run.get("error") else ""
        out.print(line + error, highlight=False, soft_wrap=True)
        status = run["status"]
    if status == "partial":
        raise typer.Exit(PARTIAL_EXIT)
    if status != "success":
        raise typer.Exit(1)


def _activity_line(entry: dict[str, Any]) -> str:
    stamp = entry["timestamp"][:19].replace("T", " ")
    # Printed as rich markup for the status colour: escape the data, or "[crm]" and any
    # "[lowercase]" in a message would be taken for a style tag and vanish.
    job = escape(f" [{entry['job']}]") if entry.get("job") else ""
    status = _styled(entry["status"])
    return f"{stamp} {entry['type']:<11} {status:<7}{job} {escape(entry['message'])}"


def _print_activity(entry: dict[str, Any]) -> None:
    out.print(_activity_line(entry), highlight=False, markup=True, soft_wrap=True)


def status(server: ServerOption = None, config: ConfigOption = None) -> None:
    """One screen: jobs, running runs, probes, recent activity."""
    client = _connect(server, config)
    with _talking(client):
        _print_table(_jobs_table(client.get(f"{API}/jobs")))
        running = client.get(f"{API}/runs", status="running", limit=50)["items"]
        queued = client.get(f"{API}/runs", status="queued", limit=50)["items"]
        table = Table(title=f"Running ({len(running)}) and queued ({len(queued)})")
        for column in ("run", "job", "status", "started", "records"):
            table.add_column(column)
        for run in running + queued:
            table.add_row(
                f"#{run['id']}",
                run["job"],
                _styled(run["status"]),
                _when(run.get("started_at") or run.get("queued_at")),
                _counts(run),
            )
        _print_table(table)
        _print_probes(client)
        recent = client.get(f"{API}/activity/recent", limit=15)["items"]
        out.print("[bold]Recent activity[/]")
        for entry in reversed(recent):
            _print_activity(entry)


def _print_probes(client: Client) -> None:
    parts = []
    try:
        streams = client.get(f"{API}/streams/active")
        count = streams.get("count")
        parts.append(f"streams: {count if count is not None else '-'} ({streams.get('source')})")
        warp = client.get(f"{API}/warp/status")
        parts.append(f"WARP: {_styled(warp.get('status'))}")
    except (ClientError, AttributeError):  # probes are extras: the rest of the screen still shows
        return
    out.print("[bold]Probes[/] " + ", ".join(parts), soft_wrap=True)


def activity(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep printing new entries")
    ] = False,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="only this type")] = None,
    status_: Annotated[str | None, typer.Option("--status", "-s", help="only this status")] = None,
    job: Annotated[str | None, typer.Option("--job", "-j", help="only this job")] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="entries to show first (0: only new ones)")
    ] = 50,
    days: Annotated[int | None, typer.Option("--days", help="0 = today")] = None,
    server: ServerOption = None,
    config: ConfigOption = None,
) -> None:
    """Print or tail the activity log.

    --follow behaves like `tail -F`: when the collector goes away (a restart, a
    deploy) it says so on stderr and keeps trying; once the collector is back it
    prints what was logged meanwhile, then new entries again. Ctrl-C stops it.
    """
    client = _connect(server, config)
    filters = {"type": type_, "status": status_, "job": job}
    with _talking(client):
        try:
            if follow:
                _Tail(client, filters).run(limit, days)
                return
            page = client.get(f"{API}/activity/recent", **filters, limit=max(limit, 1), days=days)
            for entry in reversed(page["items"][:limit]):
                _print_activity(entry)
        except KeyboardInterrupt:
            return


class _Stream:
    """An open ``/events`` response and its lines."""

    def __init__(self, response: httpx.Response, lines: Iterator[str]) -> None:
        self.response = response
        self.lines = lines

    def close(self) -> None:
        self.response.close()


class _Tail:
    """``activity --follow``: entries live from ``/events``, gaps filled from ``/activity/recent``.

    It subscribes first and reads the backlog after, so nothing logged in between is
    lost; ids already printed are skipped, so nothing is printed twice.
    """

    def __init__(self, client: Client, filters: dict[str, str | None]) -> None:
        self.client = client
        self.filters = filters
        self.printed: set[int] = set()
        self.high = 0  # the newest id shown, or known when the backlog was read
        self.floor = 0  # live entries up to here were in the backlog, shown or left out (-n)

    def run(self, limit: int, days: int | None) -> None:
        stream = self._subscribe()
        recent = f"{API}/activity/recent"
        backlog = self.client.get(recent, **self.filters, limit=max(limit, 1), days=days)["items"]
        self.high = self.floor = max((entry["id"] for entry in backlog), default=0)
        for entry in reversed(backlog[:limit]):
            self._show(entry)
        while True:
            reason = self._read(stream)
            _notice(
                f"lost the collector at {self.client.server} ({reason}); "
                "reconnecting (Ctrl-C stops)"
            )
            stream, missed = self._reconnect()
            _notice(f"reconnected to {self.client.server}")
            for entry in missed:
                self._show(entry)

    def _subscribe(self) -> "_Stream":
        """``/events``, once the collector has said it is connected."""
        http = self.client.http
        request = http.build_request(
            "GET", f"{API}/events", timeout=httpx.Timeout(10, read=STREAM_SILENCE)
        )
        try:
            response = http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise self.client.unreachable(exc) from None
        try:
            if response.status_code >= 400:
                response.read()
                self.client.check(response)
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise self.client.not_jobwatch(response)
            lines = response.iter_lines()
            next(lines, None)  # ": connected": from now on every new entry reaches this stream
        except httpx.TransportError as exc:
            response.close()
            raise self.client.unreachable(exc) from None
        except BaseException:
            response.close()
            raise
        return _Stream(response, lines)

    def _read(self, stream: "_Stream") -> str:
        """Print what arrives until the stream ends; why it ended."""
        try:
            for line in stream.lines:
                if line.startswith("data:"):
                    self._event(json.loads(line[5:]))
        except httpx.ReadTimeout:
            return f"nothing heard for {STREAM_SILENCE:.0f}s"
        except httpx.TransportError as exc:
            return type(exc).__name__
        except Unreachable as exc:  # a catch-up after dropped events
            return str(exc)
        finally:
            stream.close()
        return "it closed the stream"

    def _event(self, event: Any) -> None:
        if not isinstance(event, dict):
            return
        if event.get("type") == "dropped":  # this reader fell behind: fetch what it missed
            for entry in self._missed():
                self._show(entry)
            return
        entry = event.get("data")
        if event.get("type") != "activity" or not isinstance(entry, dict):
            return
        if entry["id"] in self.printed or entry["id"] <= self.floor:
            return
        if any(value and entry.get(key) != value for key, value in self.filters.items()):
            return
        self._show(entry)

    def _reconnect(self) -> tuple["_Stream", list[dict[str, Any]]]:
        """Subscribed again, with the entries logged while away; waits as long as it takes."""
        for attempt in itertools.count():
            time.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            try:
                stream = self._subscribe()
            except Unreachable:
                continue
            try:
                return stream, self._missed()
            except Unreachable:
                stream.close()
        raise AssertionError("itertools.count() ended")

    def _missed(self) -> list[dict[str, Any]]:
        """Entries newer than the newest shown, oldest first (the API pages newest first)."""
        missed: list[dict[str, Any]] = []
        cursor = None
        for _ in range(CATCH_UP_PAGES):
            page = self.client.get(
                f"{API}/activity/recent", **self.filters, limit=1000, cursor=cursor
            )
            newer = [entry for entry in page["items"] if entry["id"] > self.high]
            missed.extend(newer)
            cursor = page.get("next_cursor")
            if len(newer) < len(page["items"]) or not cursor:
                break
        return sorted(
            (entry for entry in missed if entry["id"] not in self.printed),
            key=lambda entry: entry["id"],
        )

    def _show(self, entry: dict[str, Any]) -> None:
        _print_activity(entry)
        self.printed.add(entry["id"])
        self.high = max(self.high, entry["id"])


def register(app: typer.Typer) -> None:
    app.command("jobs")(jobs)
    app.command("trigger")(trigger)
    app.command("status")(status)
    app.command("activity")(activity)
