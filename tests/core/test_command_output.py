"""What a command job's process may do to its output and process group, run in-process.

``command.execute`` is called directly with a bare RunContext, so each case checks
the kind itself: odd progress lines, binary output, one endless line, a missing
``cwd``, a grandchild that keeps the output open after the command exits, and a
grandchild that needs its cancel grace to clean up.
"""

import threading
import tracemalloc
from pathlib import Path

from collector.context import RunContext
from collector.kinds import command
from collector.kinds.command import CommandJob, parse_progress
from tests.core.helpers import PYTHON, pid_alive, read_pid
from tests.support.process import wait_for


def _job(script: str, **fields: object) -> CommandJob:
    return CommandJob(
        name="cmd", kind="command", command=[PYTHON, "-c", script], cancel_grace=5, **fields
    )


def _ctx() -> RunContext:
    return RunContext(run_id=1, job="cmd", params={})


def test_odd_progress_values_are_ignored_and_reading_goes_on() -> None:
    script = (
        'print(\'@jobwatch {"processed": 5, "created": 2}\')\n'
        "print('@jobwatch {\"processed\": Infinity}')\n"
        'print(\'@jobwatch {"processed": NaN, "updated": -3}\')\n'
        'print(\'@jobwatch {"processed": 1e400, "failed": 99999999999999}\')\n'
        'print(\'@jobwatch {"processed": 7.9, "message": "at 7"}\')\n'
        "print('done')\n"
    )
    ctx = _ctx()
    outcome = command.execute(ctx, _job(script))

    assert outcome.status == "success", outcome
    assert ctx.counts() == {"processed": 7, "created": 2, "updated": 0, "failed": 0}
    assert ctx.state.message == "at 7"
    assert ctx.log_tail().splitlines() == ["done"]


def test_parse_progress_takes_only_counts_a_database_can_hold() -> None:
    assert parse_progress('@jobwatch {"processed": -1, "created": 3}') == {
        "totals": {"created": 3},
        "message": None,
    }
    assert parse_progress('@jobwatch {"processed": true, "updated": 2147483648}') == {
        "totals": {},
        "message": None,
    }


def test_binary_output_is_kept_as_text_without_nul() -> None:
    script = (
        "import sys\n"
        "sys.stdout.buffer.write(b'head\\x00\\xff\\xfe tail\\n\\x89PNG\\r\\n\\x1a\\n')\n"
        "print('done', flush=True)\n"
    )
    ctx = _ctx()
    outcome = command.execute(ctx, _job(script))

    assert outcome.status == "success", outcome
    tail = ctx.log_tail()
    assert tail.splitlines()[0] == "head\ufffd\ufffd\ufffd tail"
    assert tail.splitlines()[-1] == "done"


def test_an_endless_line_is_cut_and_never_held_whole() -> None:
    size = 30_000_000
    script = (
        "import sys\n"
        f"for _ in range({size} // 100_000):\n"
        "    sys.stdout.write('x' * 100_000)\n"
        "sys.stdout.write('\\nlast line\\n')\n"
    )
    ctx = _ctx()
    tracemalloc.start()
    try:
        outcome = command.execute(ctx, _job(script))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert outcome.status == "success", outcome
    first, last = ctx.log_tail().splitlines()
    assert first.startswith("x" * 1000)
    assert len(first) <= command.MAX_LINE_CHARS + 100
    assert first.endswith("(line cut)")
    assert last == "last line"
    assert peak < size / 5, f"peak {peak} bytes for a {size}-character line"


def test_a_missing_cwd_is_named_in_the_error(tmp_path: Path) -> None:
    missing = tmp_path / "not-there"
    outcome = command.execute(_ctx(), _job("print(1)", cwd=str(missing)))

    assert outcome.status == "failed"
    assert outcome.error == (
        f"cannot start {PYTHON!r}: working directory {str(missing)!r}: No such file or directory"
    )


def test_a_grandchild_holding_the_output_open_does_not_hold_the_run(tmp_path: Path) -> None:
    """The command exits 0; what it left running with our stdout is ended with the run."""
    pid_file = tmp_path / "grandchild.pid"
    grandchild = (
        "import os, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "print('grandchild up', flush=True)\n"
        "time.sleep(60)\n"
    )
    script = (
        "import os, subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {grandchild!r}])\n"
        f"while not os.path.exists({str(pid_file)!r}): time.sleep(0.01)\n"
        "print('parent done', flush=True)\n"
    )
    ctx = _ctx()
    outcome = command.execute(ctx, _job(script))

    assert outcome.status == "success", outcome
    grandchild = read_pid(pid_file)
    assert grandchild is not None
    wait_for(lambda: not pid_alive(grandchild), timeout=5, what="the grandchild to be gone")
    assert "parent done" in ctx.log_tail().splitlines()


def test_cancel_gives_the_whole_group_its_grace(tmp_path: Path) -> None:
    """The leader dies on SIGTERM at once; its child still gets the grace to clean up."""
    ready, cleaned = tmp_path / "ready", tmp_path / "cleaned"
    grandchild = (
        "import signal, sys, time\n"
        "def stop(*_):\n"
        "    time.sleep(0.5)\n"
        f"    open({str(cleaned)!r}, 'w').write('clean')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        f"open({str(ready)!r}, 'w').close()\n"
        "time.sleep(60)\n"
    )
    script = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {grandchild!r}])\n"
        "time.sleep(60)\n"
    )
    ctx = _ctx()
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(command.execute(ctx, _job(script))))
    worker.start()
    wait_for(ready.exists, timeout=10, what="the grandchild to install its SIGTERM handler")

    ctx.request_cancel("cancelled")
    worker.join(10)

    assert not worker.is_alive()
    assert cleaned.exists(), "the grandchild was killed before its cancel grace was up"
