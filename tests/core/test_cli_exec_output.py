"""``jobwatch exec``'s output pump: exact pass-through, progress, tail, and little work per line.

A chatty command (a log line per record) writes faster than Python can look at every
line; the pipe then fills and the command itself slows down. Only lines that can be
progress are parsed, and only the lines that can still end up in the tail are kept.
"""

import io
import json
import os
import threading
from typing import Any

import pytest

from collector.cli import exec as exec_cli
from collector.cli.exec import Output
from collector.counts import LOG_TAIL_LINES


def pump(chunks: list[bytes], *, parse: bool, output: Output | None = None) -> tuple[Output, bytes]:
    """Feed ``chunks`` through a real pipe, one write each, and pump them like exec does."""
    output = output or Output()
    read_end, write_end = os.pipe()
    sink = io.BytesIO()

    def write() -> None:
        with os.fdopen(write_end, "wb", buffering=0) as writer:
            for chunk in chunks:
                writer.write(chunk)

    writer = threading.Thread(target=write)
    writer.start()
    with os.fdopen(read_end, "rb", buffering=0) as source:
        output.pump(source, sink, parse)  # type: ignore[arg-type]
    writer.join()
    return output, sink.getvalue()


def progress(**totals: Any) -> bytes:
    return b"@jobwatch " + json.dumps(totals).encode() + b"\n"


def test_output_passes_through_and_is_read_like_line_by_line() -> None:
    records = [f"record {n} synced\n".encode() for n in range(3 * LOG_TAIL_LINES)]
    half = len(records) // 2
    first, split = progress(processed=5, message="half"), progress(processed=9, failed=1)
    chunks = [
        b"".join(records[:half])[:-3],  # a line cut in two
        b"ed\n" + first,
        b"".join(records[half:]) + b"windows line\r\n" + split[:7],  # and a progress line
        split[7:] + b"  " + progress(created=2).rstrip(b"\n") + b"  \n",
        b"last words without newline",
    ]
    output, passed = pump(chunks, parse=True)
    assert passed == b"".join(chunks)
    assert output.totals == {"processed": 9, "created": 2, "updated": 0, "failed": 1}
    assert output.message == "half"
    expected = [f"record {n} synced" for n in range(3 * LOG_TAIL_LINES)]
    expected += ["windows line", "last words without newline"]
    assert list(output.tail) == expected[-LOG_TAIL_LINES:]


def test_stderr_is_never_progress_and_its_last_words_explain_a_failure() -> None:
    output = Output()
    lines = [f"warning {n}\n".encode() for n in range(2 * LOG_TAIL_LINES)]
    chunks = [b"".join(lines), progress(processed=3), b"fatal: disk full\n", b" \n" * 100]
    output, _ = pump(chunks, parse=False, output=output)
    assert output.totals["processed"] == 0
    assert output.last_error_line == "fatal: disk full"
    assert list(output.tail)[-102:-100] == [
        progress(processed=3).decode().strip(),
        "fatal: disk full",
    ]
    assert len(output.tail) == LOG_TAIL_LINES


def test_ordinary_lines_are_not_parsed_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = exec_cli.parse_progress

    def counting(line: str) -> dict[str, Any] | None:
        parsed.append(line)
        return real(line)

    monkeypatch.setattr(exec_cli, "parse_progress", counting)
    noise = b"".join(f"GET /contacts?page={n} 200\n".encode() for n in range(20_000))
    chunks = [noise, progress(processed=1), noise, b"@jobwatch in prose, not progress\n", noise]
    output, _ = pump(chunks, parse=True)
    assert output.totals["processed"] == 1
    assert len(parsed) == 2, parsed[:5]
    assert list(output.tail)[-1] == "GET /contacts?page=19999 200"
