"""CLI commands that talk to a running collector through its API."""

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from collector.cli.client import Client, ClientError, server_settings

API = "/api/v1"
FINAL = {"success", "partial", "failed", "cancelled", "timed_out", "abandoned"}
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


def _client(server: str | None, config: str | None) -> Client:
    url, token = server_settings(config)
    return Client(server or url, token)


def _fail(error: ClientError) -> typer.Exit:
    err.print(str(error), markup=False, highlight=False)
    return typer.Exit(error.code)


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
    table = Table(title="Jobs")
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
    try:
        out.print(_jobs_table(_client(server, config).get(f"{API}/jobs")))
    except ClientError as error:
        raise _fail(error) from None


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
        bool, typer.Option("--wait", help="follow the run; exit non-zero unless it succeeds")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="record the run as a dry run")] = False,
    server: ServerOption = None,
    config: ConfigOption = None,
) -> None:
    """Start a run through the API."""
    try:
        client = _client(server, config)
        body = {"params": parse_params(param or []), "dry_run": dry_run}
        run = client.post(f"{API}/jobs/{name}/runs", body)
        err.print(f"run #{run['id']} of {name} {run['status']}", highlight=False)
        if not wait:
            out.print(json.dumps(run, indent=2), highlight=False)
            return
        run = _follow_run(client, run)
    except ClientError as error:
        raise _fail(error) from None
    line = f"run #{run['id']} of {name} ended {_styled(run['status'])}: {_counts(run)}"
    error = f"\n[red]{escape(run['error'])}[/]" if run.get("error") else ""
    out.print(line + error, highlight=False)
    if run["status"] != "success":
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
    try:
        client = _client(server, config)
        out.print(_jobs_table(client.get(f"{API}/jobs")))
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
        out.print(table)
        _print_probes(client)
        recent = client.get(f"{API}/activity/recent", limit=15)["items"]
        out.print("[bold]Recent activity[/]")
        for entry in reversed(recent):
            _print_activity(entry)
    except ClientError as error:
        raise _fail(error) from None


def _print_probes(client: Client) -> None:
    parts = []
    try:
        streams = client.get(f"{API}/streams/active")
        count = streams.get("count")
        parts.append(f"streams: {count if count is not None else '-'} ({streams.get('source')})")
        warp = client.get(f"{API}/warp/status")
        parts.append(f"WARP: {_styled(warp.get('status'))}")
    except ClientError:
        return
    out.print("[bold]Probes[/] " + ", ".join(parts))


def activity(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep printing new entries")
    ] = False,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="only this type")] = None,
    status_: Annotated[str | None, typer.Option("--status", "-s", help="only this status")] = None,
    job: Annotated[str | None, typer.Option("--job", "-j", help="only this job")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="entries to show first")] = 50,
    days: Annotated[int | None, typer.Option("--days", help="0 = today")] = None,
    server: ServerOption = None,
    config: ConfigOption = None,
) -> None:
    """Print or tail the activity log."""
    try:
        client = _client(server, config)
        page = client.get(
            f"{API}/activity/recent", type=type_, status=status_, job=job, limit=limit, days=days
        )
        for entry in reversed(page["items"]):
            _print_activity(entry)
        if follow:
            _tail(client, type_, status_, job)
    except ClientError as error:
        raise _fail(error) from None
    except KeyboardInterrupt:
        return


def _tail(client: Client, type_: str | None, status_: str | None, job: str | None) -> None:
    try:
        with client.http.stream(
            "GET", f"{API}/events", timeout=httpx.Timeout(10, read=None)
        ) as response:
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                entry = event.get("data") or {}
                if event.get("type") != "activity":
                    continue
                if (type_ and entry.get("type") != type_) or (
                    status_ and entry.get("status") != status_
                ):
                    continue
                if job and entry.get("job") != job:
                    continue
                _print_activity(entry)
    except httpx.TransportError as exc:
        raise ClientError(f"lost the collector at {client.server}: {type(exc).__name__}") from None


def register(app: typer.Typer) -> None:
    app.command("jobs")(jobs)
    app.command("trigger")(trigger)
    app.command("status")(status)
    app.command("activity")(activity)
