"""``jobwatch``: the command line. Local commands here, API-backed ones in ``remote``.

The server side (uvicorn, the service, migrations) is imported by ``run`` only, so the
commands people type often (``status``, ``jobs``, ``exec``) start faster.
"""

import ipaddress
import logging
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from collector import __version__
from collector.cli import exec as exec_cli
from collector.cli import remote
from collector.config import ConfigError, Settings, load_settings, resolve_config_path

if TYPE_CHECKING:
    import uvicorn

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


def _error(message: str) -> None:
    """One line on stderr, however narrow the terminal (or 80 columns when it is a pipe)."""
    err.print(" ".join(message.split("\n")), markup=False, highlight=False, soft_wrap=True)


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
    database = None
    try:
        database = Database(settings.database_url)  # an unknown kind of URL fails here
        migrate.upgrade(database)
        typer.echo(f"database at revision {migrate.current_revision(database)}")
    except Exception as exc:
        _error(f"cannot upgrade the database: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None
    finally:
        if database is not None:
            database.dispose()


def _server(collector: "Collector", app: Any, settings: Settings) -> "uvicorn.Server":
    import uvicorn

    class _Server(uvicorn.Server):
        """Tells the collector the moment a stop signal arrives.

        uvicorn waits for open connections before it returns; long-lived ones (``/events``)
        end only when they learn that the collector is stopping, and new triggers are
        refused from then on instead of queueing runs that would never start.
        """

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            collector.stopping.set()
            super().handle_exit(sig, frame)

    return _Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    )


@app.command("run")
def run(config: ConfigOption = None) -> None:
    """Migrate the DB, then run the scheduler, probes and HTTP server until SIGTERM/SIGINT."""
    import signal

    from collector.api.app import create_app
    from collector.service import Collector
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
        _error(
            f"refusing to listen on {settings.listen} without an API token: set api_token in the "
            "config or JOBWATCH_API_TOKEN, or listen on 127.0.0.1"
        )
        raise typer.Exit(2)
    tracer_provider = setup_tracing("jobwatch", __version__)
    collector = Collector(settings, config_path=resolve_config_path(config))
    try:
        collector.start()
    except Exception as exc:
        _error(f"cannot start: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None
    server = _server(collector, create_app(collector, manage_lifecycle=False), settings)
    # uvicorn re-raises the signal that stopped it once it has shut down; with the default
    # SIGTERM action that would kill the process before collector.stop() records the final
    # states of running runs and flushes the activity log. Absorb the re-raised signal:
    # collector.stop() below is the graceful path, bounded by shutdown_grace.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    try:
        server.run()
    except SystemExit:
        if server.started:
            raise
        # uvicorn exits by itself when it cannot bind (it has logged why): say it as we do.
    finally:
        collector.stop()
        shutdown_tracing(tracer_provider)
    if not server.started:
        _error(f"could not listen on {settings.listen}")
        raise typer.Exit(1)


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
