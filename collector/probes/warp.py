"""Cloudflare WARP: asked of ``warp-cli status`` and/or a ``cdn-cgi/trace`` endpoint.

warp-cli's output changed between versions (``Reason:`` after a period on the status
line, then on its own line; a ``-j`` JSON form whose reason is a string or a one-key
object), so the parser accepts all of them. The CLI runs in its own process group and
the whole group is killed when the timeout passes: a stuck daemon must not leave
``warp-cli`` processes piling up once per interval.
"""

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from collector.events import utcnow
from collector.probes.base import (
    Deadline,
    Interval,
    Outcome,
    Probe,
    ProbeConfigBase,
    ProbeError,
    ProbeReading,
    StateChange,
    Timeout,
    http_get,
    http_url,
)
from collector.store.models import Setting

logger = logging.getLogger(__name__)

WarpState = Literal["connected", "disconnected", "connecting", "error", "unknown"]
WARP_STATES: tuple[WarpState, ...] = ("connected", "disconnected", "connecting", "error", "unknown")
DEFAULT_COMMAND = ("warp-cli", "--accept-tos", "status")
LAST_CONNECTED_KEY = "probe.warp.last_connected"
# After the deadline, still give a process that already exited this long to be read.
REAP_GRACE_SECONDS = 0.05

_STATUS_LINE = re.compile(r"^\s*Status update:\s*(?P<value>.*?)\s*$", re.IGNORECASE | re.MULTILINE)
_REASON = re.compile(r"Reason:\s*(?P<reason>.*?)\s*$", re.IGNORECASE | re.MULTILINE)
_FIRST_WORD = re.compile(r"[A-Za-z]+")
_WORDS: dict[str, WarpState] = {
    "connected": "connected",
    "disconnected": "disconnected",
    "connecting": "connecting",
}
_TRACE_STATES: dict[str, WarpState] = {
    "on": "connected",
    "plus": "connected",
    "off": "disconnected",
}


class WarpConfig(ProbeConfigBase):
    command: list[str] | None = Field(default_factory=lambda: list(DEFAULT_COMMAND))
    trace_url: str | None = None
    interval: Interval = 30.0
    timeout: Timeout = 5.0

    _trace_url = field_validator("trace_url")(http_url)

    @field_validator("command")
    @classmethod
    def _argv(cls, command: list[str] | None) -> list[str] | None:
        if command is not None and (not command or not all(arg.strip() for arg in command)):
            raise ValueError('must be a non-empty argv list such as ["warp-cli", "status"]')
        return command

    @model_validator(mode="after")
    def _something_to_ask(self) -> "WarpConfig":
        if self.command is None and self.trace_url is None:
            raise ValueError("set command, trace_url or both")
        return self

    @property
    def json_output(self) -> bool:
        return self.command is not None and any(arg in ("-j", "--json") for arg in self.command)


@dataclass(frozen=True)
class CliStatus:
    """What warp-cli said. ``up`` is whether the daemon answered at all."""

    status: WarpState
    up: bool
    reason: str | None = None
    error: str | None = None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:200]


def _unrecognised(output: str) -> CliStatus:
    return CliStatus("error", False, error=f"unrecognised warp-cli output: {_first_line(output)!r}")


def _from_words(value: str, reason: str | None) -> CliStatus:
    """Map a status word (``Connected``, ``Unable…``) to a state."""
    match = _FIRST_WORD.match(value)
    word = match.group(0).lower() if match else ""
    if word in _WORDS:
        return CliStatus(_WORDS[word], True, reason)
    if word == "unable":
        return CliStatus("error", True, reason, f"WARP is unable to connect: {reason or value}")
    return CliStatus("error", True, reason, f"unexpected WARP status {value!r}")


def _reason_text(reason: Any) -> str | None:
    """JSON reasons are strings or one-key objects such as ``{"SettingsChanged": …}``."""
    if reason is None or isinstance(reason, str):
        return reason or None
    if isinstance(reason, dict) and len(reason) == 1:
        ((key, value),) = reason.items()
        if value in (None, "", {}, []):
            return str(key)
        return f"{key}: {value if isinstance(value, str) else json.dumps(value)}"
    return json.dumps(reason)


def parse_json(payload: Any, output: str) -> CliStatus:
    if isinstance(payload, dict) and isinstance(payload.get("status"), str):
        return _from_words(payload["status"], _reason_text(payload.get("reason")))
    if isinstance(payload, dict) and payload.get("error"):
        # The daemon could not be asked, reported as JSON with exit status 0.
        return CliStatus("error", False, error=f"warp-cli: {_reason_text(payload['error'])}")
    return _unrecognised(output)


def parse_output(output: str, *, json_mode: bool) -> CliStatus:
    """Parse ``warp-cli status`` stdout, text or JSON (JSON is accepted in text mode too)."""
    text = output.strip()
    if json_mode or text.startswith("{"):
        try:
            return parse_json(json.loads(text), output)
        except ValueError:
            if json_mode:
                return _unrecognised(output)
    line = _STATUS_LINE.search(text)
    if line is None:
        return _unrecognised(output)
    reason = _REASON.search(text, line.start())
    value = line.group("value").split(". Reason:")[0]
    return _from_words(value, reason.group("reason") if reason else None)


def parse_trace(status: int, body: str) -> WarpState:
    """The state from ``cdn-cgi/trace`` (``warp=on|plus|off``)."""
    if status != 200:
        raise ProbeError(f"HTTP {status}")
    fields = dict(line.split("=", 1) for line in body.splitlines() if "=" in line)
    warp = fields.get("warp", "").strip()
    if warp not in _TRACE_STATES:
        raise ProbeError(f"no warp=on|plus|off in the trace (warp={warp or 'missing'})")
    return _TRACE_STATES[warp]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill warp-cli and everything it started, then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        process.communicate(timeout=1)
    except subprocess.TimeoutExpired:  # a process outside the group still holds the pipes
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        process.wait()


class WarpProbe(Probe):
    name = "warp"
    config_model = WarpConfig
    state_field = "status"
    config: WarpConfig

    def __init__(self, config: WarpConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._last_connected: datetime | None = None

    def measure(self, deadline: Deadline) -> Outcome:
        command = self.config.command
        process: subprocess.Popen[bytes] | None = None
        cli: CliStatus | None = None
        if command:
            try:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            except OSError as exc:
                cli = CliStatus("error", False, error=f"cannot run {command[0]!r}: {exc}")
        try:
            # The CLI runs while the trace is fetched, so both share one timeout.
            trace = self._trace(deadline) if self.config.trace_url else None
            if process is not None:
                cli = self._finish_cli(process, deadline)
        finally:
            if process is not None and process.poll() is None:
                _kill_group(process)
        if cli is not None:
            details: dict[str, Any] = {"source": "warp-cli", "reason": cli.reason}
            if trace is not None:
                details["trace"] = trace
                if "status" in trace:
                    trace["agrees"] = trace["status"] == cli.status
            return self._outcome(cli.status, cli.up, cli.error, details)
        assert trace is not None  # the config requires command or trace_url
        if "error" in trace:
            return self._outcome("error", False, f"trace: {trace['error']}", {"source": "trace"})
        return self._outcome(trace["status"], True, None, {"source": "trace", **trace})

    def _finish_cli(self, process: subprocess.Popen[bytes], deadline: Deadline) -> CliStatus:
        try:
            stdout, stderr = process.communicate(
                timeout=max(deadline.remaining(), REAP_GRACE_SECONDS)
            )
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return CliStatus(
                "error",
                False,
                error=f"warp-cli did not answer within {self.config.timeout:g}s and was killed",
            )
        output = stdout.decode("utf-8", errors="replace")
        if process.returncode != 0:
            said = _first_line(stderr.decode("utf-8", errors="replace")) or _first_line(output)
            return CliStatus(
                "error", False, error=f"warp-cli exited with status {process.returncode}: {said}"
            )
        return parse_output(output, json_mode=self.config.json_output)

    def _trace(self, deadline: Deadline) -> dict[str, Any]:
        assert self.config.trace_url is not None
        try:
            state = parse_trace(*http_get(self.config.trace_url, deadline.remaining()))
        except ProbeError as exc:
            return {"error": str(exc)}
        return {"status": state}

    def _outcome(
        self, status: WarpState, up: bool, error: str | None, details: dict[str, Any]
    ) -> Outcome:
        if status == "connected":
            self._last_connected = utcnow()
            self._save_last_connected()
        return Outcome(up, _data(status, self._last_connected, details), error)

    def _save_last_connected(self) -> None:
        """Keep ``last_connected`` in the settings table, so a restart does not forget it."""
        assert self._last_connected is not None
        try:
            with self.database.write() as session:
                row = session.get(Setting, LAST_CONNECTED_KEY) or Setting(key=LAST_CONNECTED_KEY)
                row.value = self._last_connected.isoformat()
                row.updated_at = utcnow()
                session.add(row)
        except Exception:
            logger.exception("could not save the last WARP connection time")

    def restore(self) -> ProbeReading:
        with self.database.read() as session:
            row = session.get(Setting, LAST_CONNECTED_KEY)
        if row is not None and isinstance(row.value, str):
            self._last_connected = datetime.fromisoformat(row.value)
        return ProbeReading(False, 0.0, None, _data("unknown", self._last_connected, {}))

    def broken(self, error: str) -> Outcome:
        return Outcome(False, _data("error", self._last_connected, {}), error)

    @classmethod
    def default_reading(cls) -> ProbeReading:
        return ProbeReading(False, 0.0, None, _data("unknown", None, {}))

    def describe_change(self, previous: str | None, reading: ProbeReading) -> StateChange | None:
        status: WarpState = reading.data["status"]
        if status == previous or (status == "connected" and previous in (None, "unknown")):
            return None
        details = {**reading.data["details"], "error": reading.error}
        if status == "connected":
            return StateChange("success", "WARP connected again", details)
        reason = reading.data["details"].get("reason")
        because = f" ({reason})" if reason else ""
        if status == "disconnected":
            return StateChange("warning", f"WARP disconnected{because}", details)
        if status == "connecting":
            return StateChange("warning", f"WARP is connecting, not connected{because}", details)
        return StateChange("error", f"WARP status error: {reading.error}", details)


def _data(
    status: WarpState, last_connected: datetime | None, details: dict[str, Any]
) -> dict[str, Any]:
    return {
        "status": status,
        "last_connected": last_connected.isoformat() if last_connected else None,
        "details": details,
    }
