"""``jobwatch exec NAME -- command args…``: run a command here and report it as an external run.

The wrapper is transparent: stdin reaches the command, its stdout and stderr reach
the terminal byte for byte (``@jobwatch`` lines included), its exit code becomes ours
(128+N when signal N ended it), and the collector being down never changes either
(see ``collector.client``). SIGINT, SIGTERM and SIGHUP sent to the wrapper are passed
on to the command, except a Ctrl-C typed at the terminal: the terminal already sent
that one to the command, which shares our process group, and twice would be too many.
"""

import os
import secrets
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, BinaryIO

import typer
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from collector.cli.client import ClientError, check_server, server_settings
from collector.cli.remote import parse_params
from collector.client import PROGRESS_INTERVAL, RunReport, Transport, replay_spool
from collector.counts import LOG_TAIL_LINES, zero_counts
from collector.kinds.command import PROGRESS_PREFIX, parse_progress
from collector.spool import SPOOL_DIR_ENV, Spool, default_spool_dir

MAX_LINE_BYTES = 64 * 1024
PROGRESS_MARK = PROGRESS_PREFIX.strip().encode()  # in every line that can be progress
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_W3C = TraceContextTextMapPropagator()


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _text(raw: bytes) -> str:
    return raw.decode(errors="replace").rstrip("\r")


def _traceparent() -> str:
    """``$TRACEPARENT`` when it is valid, so a caller's trace continues; else a new trace."""
    given = os.environ.get("TRACEPARENT", "")
    if trace.get_current_span(_W3C.extract({"traceparent": given})).get_span_context().is_valid:
        return given
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


class Output:
    """The command's output: passed through, progress lines parsed, a log tail kept."""

    def __init__(self) -> None:
        self._tail: deque[bytes] = deque(maxlen=LOG_TAIL_LINES)
        self.totals = zero_counts()
        self.message: str | None = None
        self.last_error_line: str | None = None
        self.version = 0
        self._lock = threading.Lock()

    @property
    def tail(self) -> list[str]:
        return [_text(raw) for raw in list(self._tail)]

    def block(self, block: bytes, *, parse: bool) -> None:
        """Whole lines (without the last newline), in order. ``parse`` is set for stdout.

        A chatty command writes faster than Python can look at each of its lines, and
        then the pipe fills and the command waits: so a block is split line by line only
        when the progress prefix is in it, and otherwise only its last LOG_TAIL_LINES
        lines are kept (the others would leave the tail at once), decoded when read.
        Stderr is never progress, but its last words may explain a failure.
        """
        if parse and PROGRESS_MARK in block:
            lines = block.split(b"\n")
            start = 0
            for index, raw in enumerate(lines):
                if PROGRESS_MARK in raw and self._progress(raw):
                    self._tail.extend(lines[start:index][-LOG_TAIL_LINES:])
                    start = index + 1
            self._tail.extend(lines[start:][-LOG_TAIL_LINES:])
            return
        self._tail.extend(block.rsplit(b"\n", LOG_TAIL_LINES)[-LOG_TAIL_LINES:])
        if not parse and (said := block.rstrip()):
            self.last_error_line = _text(said[said.rfind(b"\n") + 1 :]).strip()

    def _progress(self, raw: bytes) -> bool:
        progress = parse_progress(_text(raw).strip())
        if progress is None:
            return False
        with self._lock:
            self.totals.update(progress["totals"])
            self.message = progress["message"] or self.message
            self.version += 1
        return True

    def snapshot(self) -> tuple[int, dict[str, int], str | None]:
        with self._lock:
            return self.version, dict(self.totals), self.message

    def pump(self, source: BinaryIO, sink: BinaryIO, parse: bool) -> None:
        """Copy chunks as they come (a prompt or a ``\\r`` progress bar shows at once)."""
        pending = b""
        passing = True
        while chunk := os.read(source.fileno(), 65536):
            if passing:
                try:
                    sink.write(chunk)
                    sink.flush()
                except OSError:  # our own output went away (`| head`): drain, never block it
                    passing = False
            pending += chunk
            cut = pending.rfind(b"\n")
            if cut >= 0:
                self.block(pending[:cut], parse=parse)
                pending = pending[cut + 1 :]
            if len(pending) > MAX_LINE_BYTES:
                self.block(pending, parse=parse)
                pending = b""
        if pending:
            self.block(pending, parse=parse)


def _outcome(code: int, stopped: bool, output: Output) -> tuple[str, str | None]:
    """The command job's rules: exit 0 is success (partial with failures), else failed.

    A command that ended because we were asked to stop is ``cancelled``. A failure
    is explained by the last stderr line: stdout and stderr arrive through separate
    pipes, so the last line of the merged tail may not be the last one written.
    """
    if code == 0:
        failed = output.totals["failed"]
        return ("partial", f"{failed} record(s) failed") if failed else ("success", None)
    if stopped:
        return "cancelled", "jobwatch exec was stopped by a signal"
    if code < 0:
        return "failed", f"killed by signal {signal.Signals(-code).name}"
    last = output.last_error_line or next(
        (line.strip() for line in reversed(output.tail) if line.strip()), ""
    )
    return "failed", f"exit code {code}" + (f": {last}" if last else "")


def _terminal_sent(process: subprocess.Popen[bytes]) -> bool:
    """True when a SIGINT is the terminal's Ctrl-C, which the command has had already.

    That is when our process group, which the command shares, is the foreground group
    of our controlling terminal. Without a terminal (cron, CI, a service manager) or in
    the background, a SIGINT was sent to us alone, and the command must get it from us.
    """
    try:
        terminal = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(terminal) == os.getpgrp() == os.getpgid(process.pid)
    except OSError:
        return False
    finally:
        os.close(terminal)


def _forward_signals(process: subprocess.Popen[bytes], stopped: threading.Event) -> None:
    def forward(signum: int, _frame: FrameType | None) -> None:
        stopped.set()
        if signum == signal.SIGINT and _terminal_sent(process):
            return
        if process.poll() is None:
            process.send_signal(signum)

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)


def _supervise(
    process: subprocess.Popen[bytes], output: Output, report_progress: Callable[..., None]
) -> int:
    """Wait for the command, sending new totals at most once per PROGRESS_INTERVAL."""
    sent = 0
    while True:
        try:
            code = process.wait(timeout=PROGRESS_INTERVAL)
        except subprocess.TimeoutExpired:
            pass
        else:
            return code
        version, totals, message = output.snapshot()
        if version != sent:
            sent = version
            report_progress(totals, message)


def exec_command(
    name: Annotated[str, typer.Argument(help="the external job this command is a run of")],
    command: Annotated[list[str], typer.Argument(help="the command and its arguments, after --")],
    server: Annotated[
        str | None,
        typer.Option("--server", help="collector URL (default: $JOBWATCH_SERVER, else --config's)"),
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="API token (default: $JOBWATCH_API_TOKEN)")
    ] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE")] = None,
    client_run_id: Annotated[
        str | None,
        typer.Option("--client-run-id", help="names this run, so re-reporting it is harmless"),
    ] = None,
    spool_dir: Annotated[
        Path | None,
        typer.Option(
            "--spool-dir",
            envvar=SPOOL_DIR_ENV,
            help="where undelivered reports wait (default: $XDG_STATE_HOME/jobwatch/spool)",
        ),
    ] = None,
    config: Annotated[str | None, typer.Option("--config", "-c", help="config file")] = None,
) -> None:
    """Run a command here and report it to the collector as a run of an external job."""
    url, configured_token = server_settings(config)
    try:
        params = parse_params(param or [])
        server = check_server(server or url)
    except ClientError as error:
        _warn(f"jobwatch exec: {error}")
        raise typer.Exit(error.code) from None
    transport = Transport(server, token or configured_token)
    spool = Spool(spool_dir or default_spool_dir())
    replay_spool(transport, spool, _warn)
    traceparent = _traceparent()
    report = RunReport(
        name,
        transport,
        spool,
        params=params,
        client_run_id=client_run_id,
        trace_headers={"traceparent": traceparent},
        warn=_warn,
    )
    try:
        code = _run_reported(report, command, traceparent)
    finally:
        transport.close()
    raise typer.Exit(code)


def _run_reported(report: RunReport, command: list[str], traceparent: str) -> int:
    """Start, run and finish; the exit code to pass on (128+N for a signal, as shells do)."""
    report.start()
    env = {**os.environ, "TRACEPARENT": traceparent, "JOBWATCH_JOB": report.job}
    if report.run_id is not None:
        env["JOBWATCH_RUN_ID"] = str(report.run_id)
    output = Output()
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    except OSError as exc:
        error = f"cannot start {command[0]!r}: {exc.strerror or exc}"
        _warn(f"jobwatch exec: {error}")
        report.finish("failed", output.totals, error=error)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    stopped = threading.Event()
    _forward_signals(process, stopped)
    pumps = [
        threading.Thread(target=output.pump, args=(stream, sink, parse), daemon=True)
        for stream, sink, parse in (
            (process.stdout, sys.stdout.buffer, True),
            (process.stderr, sys.stderr.buffer, False),
        )
    ]
    for pump in pumps:
        pump.start()
    code = _supervise(process, output, report.progress)
    for pump in pumps:
        pump.join(timeout=5)  # a daemon the command left behind may hold the pipes open
    status, error = _outcome(code, stopped.is_set(), output)
    _, totals, message = output.snapshot()
    report.finish(status, totals, message=message, error=error, log_tail="\n".join(output.tail))
    return code if code >= 0 else 128 - code


def register(app: typer.Typer) -> None:
    app.command("exec", no_args_is_help=True)(exec_command)
