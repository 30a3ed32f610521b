"""The streams probe against real loopback acexy and engine servers in every behaviour."""

from typing import Any

import pytest

from collector.probes.base import Deadline, Outcome
from collector.probes.streams import StreamsProbe
from tests.fakes.acestream import ENGINE_GET_VERSION, ENGINE_STATUS, FakeAcexy, FakeEngine
from tests.probes.helpers import TIMEOUT, streams_config

# The only requests a streams check may make: none of them starts a stream.
READ_ONLY_PATHS = {"/ace/status", ENGINE_STATUS, ENGINE_GET_VERSION}
SLACK = 0.5
REFUSED = "ConnectError: [Errno 111] Connection refused"
NOT_JSON = "not JSON: '<html><body>502 Bad Gateway</body></html>'"
ENGINE_DOWN = f"get_status: {REFUSED}; get_version: {REFUSED}"
ENGINE_500 = "get_status: HTTP 500; get_version: HTTP 500"
ENGINE_GARBAGE = f"get_status: {NOT_JSON}; get_version: {NOT_JSON}"
VERSION = {"engine_version": "3.1.74"}
TIMED_OUT = "no answer before the timeout"


def check(acexy: FakeAcexy | None, engine: FakeEngine | None) -> Any:
    probe = StreamsProbe(
        streams_config(acexy.url if acexy else None, engine.url if engine else None),
        database=None,  # the streams probe keeps nothing
    )
    reading = probe.check()
    for fake in (acexy, engine):
        if fake is not None:
            assert set(path for path in fake.requests) <= READ_ONLY_PATHS
    assert reading.duration_seconds < TIMEOUT + SLACK
    return reading


@pytest.mark.parametrize(
    ("acexy_behaviour", "streams", "expected"),
    [
        ("up", 3, 3),
        ("up", 0, 0),
        ("bare", 2, 2),
    ],
)
def test_acexy_answers(acexy_behaviour: str, streams: int, expected: int) -> None:
    acexy = FakeAcexy(acexy_behaviour, streams=streams)
    engine = FakeEngine("up")
    try:
        reading = check(acexy, engine)
    finally:
        acexy.close()
        engine.close()
    assert reading.up is True
    assert reading.error is None
    assert reading.data == {"count": expected, "source": "acexy", "details": {}}
    assert engine.requests == []  # acexy answered: the engine is not bothered


@pytest.mark.parametrize(
    ("acexy_behaviour", "engine_behaviour", "expected_details"),
    [
        ("error", "up", {"acexy_error": "HTTP 500", **VERSION}),
        ("garbage", "up", {"acexy_error": NOT_JSON, **VERSION}),
        ("down", "up", {"acexy_error": REFUSED, **VERSION}),
        ("hang", "up", {"acexy_error": TIMED_OUT, **VERSION}),
        ("down", "legacy", {"acexy_error": REFUSED, **VERSION}),
    ],
)
def test_engine_answers_when_acexy_does_not(
    acexy_behaviour: str, engine_behaviour: str, expected_details: dict[str, Any]
) -> None:
    acexy = FakeAcexy(acexy_behaviour)
    engine = FakeEngine(engine_behaviour)
    try:
        reading = check(acexy, engine)
    finally:
        acexy.close()
        engine.close()
    assert reading.up is True
    assert reading.error is None
    assert reading.data == {"count": None, "source": "acestream", "details": expected_details}


def test_acexy_json_without_a_count_is_garbage_too(acexy: FakeAcexy, engine: FakeEngine) -> None:
    acexy.set("no_count")
    reading = check(acexy, engine)
    assert reading.data["source"] == "acestream"
    assert reading.data["details"]["acexy_error"] == 'no stream count in \'{"status": "ok"}\''


@pytest.mark.parametrize(
    ("acexy_behaviour", "engine_behaviour", "acexy_error", "engine_error"),
    [
        ("down", "down", REFUSED, ENGINE_DOWN),
        ("error", "error", "HTTP 500", ENGINE_500),
        ("garbage", "garbage", NOT_JSON, ENGINE_GARBAGE),
        (
            "hang",
            "hang",
            TIMED_OUT,
            f"get_status: {TIMED_OUT}; get_version: no time left in the probe timeout",
        ),
    ],
)
def test_neither_answers(
    acexy_behaviour: str, engine_behaviour: str, acexy_error: str, engine_error: str
) -> None:
    acexy = FakeAcexy(acexy_behaviour)
    engine = FakeEngine(engine_behaviour)
    try:
        reading = check(acexy, engine)
    finally:
        acexy.close()
        engine.close()
    assert reading.up is False
    assert reading.data == {
        "count": None,
        "source": "unavailable",
        "details": {"acexy_error": acexy_error, "acestream_error": engine_error},
    }
    assert reading.error == f"acexy: {acexy_error}; acestream: {engine_error}"


def test_acexy_alone_hanging_uses_the_whole_timeout() -> None:
    acexy = FakeAcexy("hang")
    try:
        reading = check(acexy, None)
    finally:
        acexy.close()
    assert reading.up is False
    assert reading.error == f"acexy: {TIMED_OUT}"
    assert reading.duration_seconds >= TIMEOUT * 0.9


def test_engine_alone(engine: FakeEngine) -> None:
    reading = check(None, engine)
    assert (reading.up, reading.data) == (
        True,
        {"count": None, "source": "acestream", "details": VERSION},
    )
    engine.set("down")
    reading = check(None, engine)
    assert reading.up is False
    assert reading.data["source"] == "unavailable"
    assert reading.error == f"acestream: {ENGINE_DOWN}"


def test_default_reading_is_unavailable() -> None:
    reading = StreamsProbe.default_reading()
    assert (reading.up, reading.checked_at, reading.error) == (False, None, None)
    assert reading.data == {"count": None, "source": "unavailable", "details": {}}


class CrashingProbe(StreamsProbe):
    """Fault injection: a probe with a bug in its I/O code."""

    def measure(self, deadline: Deadline) -> Outcome:
        raise RuntimeError("bug")


def test_a_probe_bug_is_a_down_reading_not_an_exception() -> None:
    reading = CrashingProbe(streams_config("http://127.0.0.1:9", None), database=None).check()
    assert (reading.up, reading.error) == (False, "RuntimeError: bug")
    assert reading.data == {"count": None, "source": "unavailable", "details": {}}
    assert reading.checked_at is not None
