"""Active streams: asked of acexy, with the AceStream engine as a liveness fallback.

acexy counts the streams it proxies (``GET /ace/status``). The engine itself cannot
count sessions without starting one, and a probe must never start a stream, so when
only the engine answers the count is unknown (null) and the source says so.
"""

import contextlib
import json
from typing import Any, Literal

from pydantic import field_validator, model_validator

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

Source = Literal["acexy", "acestream", "unavailable"]
ENGINE_STATUS_PATH = "/server/api?api_version=3&method=get_status"
ENGINE_VERSION_PATH = "/webui/api/service?method=get_version"


class StreamsConfig(ProbeConfigBase):
    acexy_url: str | None = None
    acestream_url: str | None = None
    interval: Interval = 15.0
    timeout: Timeout = 3.0

    _urls = field_validator("acexy_url", "acestream_url")(http_url)

    @model_validator(mode="after")
    def _something_to_ask(self) -> "StreamsConfig":
        if self.acexy_url is None and self.acestream_url is None:
            raise ValueError("set acexy_url, acestream_url or both")
        return self


def _excerpt(body: str) -> str:
    return repr(body.strip()[:80])


def parse_acexy(status: int, body: str) -> int:
    """The stream count from ``/ace/status``: ``{"streams": N}`` or, from older builds, ``N``."""
    if status != 200:
        raise ProbeError(f"HTTP {status}")
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise ProbeError(f"not JSON: {_excerpt(body)}") from None
    count = payload.get("streams") if isinstance(payload, dict) else payload
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ProbeError(f"no stream count in {_excerpt(body)}")
    return count


def parse_engine(status: int, body: str) -> str | None:
    """The engine's version, or None when it answered without one; raises when it did not answer.

    Any JSON object counts as an answer: the engine replies to an unauthorised or
    unknown method with ``{"error": …}``, which still proves it is running.
    """
    if status != 200:
        raise ProbeError(f"HTTP {status}")
    try:
        payload = json.loads(body)
    except ValueError:
        raise ProbeError(f"not JSON: {_excerpt(body)}") from None
    if not isinstance(payload, dict):
        raise ProbeError(f"not a JSON object: {_excerpt(body)}")
    result = payload.get("result")
    version = result.get("version") if isinstance(result, dict) else None
    return str(version) if version is not None else None


class StreamsProbe(Probe):
    name = "streams"
    config_model = StreamsConfig
    state_field = "source"
    config: StreamsConfig

    def measure(self, deadline: Deadline) -> Outcome:
        details: dict[str, Any] = {}
        acexy_url, engine_url = self.config.acexy_url, self.config.acestream_url
        if acexy_url is not None:
            # Leave the engine half of the time, so a hanging acexy still gets a fallback answer.
            budget = deadline.remaining() / 2 if engine_url else deadline.remaining()
            try:
                count = parse_acexy(*http_get(f"{acexy_url}/ace/status", budget))
            except ProbeError as exc:
                details["acexy_error"] = str(exc)
            else:
                return Outcome(True, _data(count, "acexy", details))
        if engine_url is not None:
            try:
                details["engine_version"] = self._ask_engine(engine_url, deadline)
            except ProbeError as exc:
                details["acestream_error"] = str(exc)
            else:
                return Outcome(True, _data(None, "acestream", details))
        errors = [f"{key.removesuffix('_error')}: {value}" for key, value in details.items()]
        return Outcome(False, _data(None, "unavailable", details), "; ".join(errors))

    def _ask_engine(self, base: str, deadline: Deadline) -> str | None:
        """Whether the engine runs (else raises), and its version when it tells."""
        try:
            version = parse_engine(*http_get(base + ENGINE_STATUS_PATH, deadline.remaining()))
        except ProbeError as status_error:
            try:
                return parse_engine(*http_get(base + ENGINE_VERSION_PATH, deadline.remaining()))
            except ProbeError as version_error:
                raise ProbeError(
                    f"get_status: {status_error}; get_version: {version_error}"
                ) from None
        if version is None:
            with contextlib.suppress(ProbeError):  # the engine is up; only the version is unknown
                version = parse_engine(*http_get(base + ENGINE_VERSION_PATH, deadline.remaining()))
        return version

    def broken(self, error: str) -> Outcome:
        return Outcome(False, _data(None, "unavailable", {}), error)

    @classmethod
    def default_reading(cls) -> ProbeReading:
        return ProbeReading(False, 0.0, None, _data(None, "unavailable", {}))

    def describe_change(self, previous: str | None, reading: ProbeReading) -> StateChange | None:
        source: Source = reading.data["source"]
        details = reading.data["details"]
        if previous == source:
            return None
        normal: Source = "acexy" if self.config.acexy_url else "acestream"
        if source == normal:
            if previous is None:
                return None
            if source == "acexy":
                count = reading.data["count"]
                return StateChange(
                    "success", f"acexy answers again: {count} active streams", details
                )
            return StateChange("success", "The AceStream engine answers again", details)
        if source == "acestream":
            return StateChange(
                "warning",
                f"acexy does not answer ({details['acexy_error']}); the AceStream engine does, "
                "so the number of active streams is unknown",
                details,
            )
        return StateChange("error", f"Active streams unavailable: {reading.error}", details)


def _data(count: int | None, source: Source, details: dict[str, Any]) -> dict[str, Any]:
    return {"count": count, "source": source, "details": details}
