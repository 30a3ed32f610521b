"""A stop signal ends open ``/events`` streams, so shutdown never waits on a client."""

import signal
import threading

import httpx

from tests.support.process import CollectorProcess, wait_for


def test_sigterm_closes_open_event_streams_cleanly(
    collector_process: type[CollectorProcess],
) -> None:
    collector = collector_process({"jobs": []}).start()
    lines: list[str] = []
    outcome: dict[str, object] = {}

    def follow() -> None:
        try:
            with httpx.stream("GET", f"{collector.url}/api/v1/events", timeout=30) as response:
                for line in response.iter_lines():
                    lines.append(line)
            outcome["ended"] = "eof"
        except httpx.HTTPError as exc:
            outcome["ended"] = f"error: {exc!r}"

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    wait_for(lambda: ": connected" in lines, what="the event stream to open")

    assert collector.stop(signal.SIGTERM, timeout=30) == 0
    reader.join(timeout=30)
    assert outcome.get("ended") == "eof"
    log = collector.log()
    assert "ERROR" not in log, log
    assert "Traceback" not in log, log
