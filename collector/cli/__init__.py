"""``jobwatch``: the command line. Local commands here, API-backed ones in ``remote``."""

import ipaddress
import logging
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from collector import __version__
from collector.cli import exec as exec_cli
from collector.cli import remote
from collector.config import ConfigError, Settings, load_settings, resolve_config_path
from collector.service import Collector

app = typer.Typer(
    name="jobwatch",
    help="Run and watch syncs, scrapes and probes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
remote.register(app)
exec_cli.register(app)
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="config file (default: $JOBWATCH_CONFIG or ./jobwatch.yaml)"
    ),
]


def _load(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as error:
        for problem in error.problems:
            err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command("check-config")
def check_config(config: ConfigOption = None) -> None:
    """Validate the config; exit 2 with file:line: field: problem lines when it is wrong."""
    settings = _load(config)
    path = resolve_config_path(config)
    scheduled = sum(1 for job in settings.jobs if job.schedule is not None)
    probes = [name for name, value in settings.probes if value is not None]
    typer.echo(
        f"{path}: OK: {len(settings.jobs)} job(s), {scheduled} scheduled"
        + (f", probes: {', '.join(probes)}" if probes else "")
    )


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply the Alembic migrations to the configured database."""
    from collector.store import migrate
    from collector.store.database import Database

    settings = _load(config)
    database = Database(settings.database_url)
    try:
        migrate.upgrade(database)
        typer.echo(f"database at revision {migrate.current_revision(database)}")
    except Exception as exc:
        err.print(f"cannot upgrade the database: {type(exc).__name__}: {exc}", markup=False)
        raise typer.Exit(1) from None
    finally:
        database.dispose()


class _Server(uvicorn.Server):
    """Tells the collector the moment a stop signal arrives.

    uvicorn waits for open connections before it returns; long-lived ones (``/events``)
    end only when they learn that the collector is stopping, and new triggers are
    refused from then on instead of queueing runs that would never start.
    """

    def __init__(self, collector: "Collector", config: uvicorn.Config) -> None:
        super().__init__(config)
        self._collector = collector

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._collector.stopping.set()
        super().handle_exit(sig, frame)


@app.command("run")
def run(config: ConfigOption = None) -> None:
    """Migrate the DB, then run the scheduler, probes and HTTP server until SIGTERM/SIGINT."""
    import signal

    from collector.api.app import create_app
    from exporters.tracing import setup_tracing, shutdown_tracing

    settings = _load(config)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for chatty in ("apscheduler", "httpx", "alembic"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
    if not _is_loopback(settings.host) and not settings.api_token:
        err.print(
            f"refusing to listen on {settings.listen} without an API token: set api_token in the "
            "config or JOBWATCH_API_TOKEN, or listen on 127.0.0.1",
            markup=False,
        )
        raise typer.Exit(2)
    tracer_provider = setup_tracing("jobwatch", __version__)
    collector = Collector(settings, config_path=resolve_config_path(config))
    try:
        collector.start()
    except Exception as exc:
        err.print(f"cannot start: {type(exc).__name__}: {exc}", markup=False)
        raise typer.Exit(1) from None
    server = _Server(
        collector,
        uvicorn.Config(
            create_app(collector, manage_lifecycle=False),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        ),
    )
    # uvicorn re-raises the signal that stopped it once it has shut down; with the default
    # SIGTERM action that would kill the process before collector.stop() records the final
    # states of running runs and flushes the activity log. Absorb the re-raised signal:
    # collector.stop() below is the graceful path, bounded by shutdown_grace.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    try:
        server.run()
    finally:
        collector.stop()
        shutdown_tracing(tracer_provider)
    if not server.started:
        err.print(f"could not listen on {settings.listen}", markup=False)
        raise typer.Exit(1)


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
