"""What ``log_activity`` costs the job that calls it, against writing each entry itself.

The baseline is the straightforward design: every call inserts its row and commits
before returning (on the same SQLite file setup, WAL and ``BEGIN IMMEDIATE``). Ours
queues the row and returns; one background thread writes batches. Two figures:
the caller's time per call (median and p99), and the throughput until everything
is committed (``flush``), each with its ratio to the baseline.

Run: ``.venv/bin/python bench/activity_write.py [--entries 20000] [--baseline-entries 2000]``
"""

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from collector import activity
from collector.activity import ActivityWriter, log_activity, make_row
from collector.events import EventBus
from collector.store import migrate
from collector.store.database import Database
from collector.store.models import ActivityLog


def _database(folder: Path, name: str) -> Database:
    database = Database(f"sqlite:///{folder / name}")
    migrate.upgrade(database)
    return database


def _count(database: Database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(ActivityLog)) or 0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * share), len(ordered) - 1)]


def baseline(folder: Path, entries: int) -> tuple[list[float], float]:
    """One INSERT and COMMIT per call, on the caller's thread."""
    database = _database(folder, "baseline.db")
    calls: list[float] = []
    began = time.perf_counter()
    for number in range(entries):
        started = time.perf_counter()
        with database.write() as session:
            session.execute(insert(ActivityLog), [make_row("sync", f"entry {number}")])
        calls.append(time.perf_counter() - started)
    total = time.perf_counter() - began
    assert _count(database) == entries
    database.dispose()
    return calls, total


def batched(folder: Path, entries: int) -> tuple[list[float], float]:
    """``log_activity`` through the ActivityWriter; total time runs until ``flush``."""
    database = _database(folder, "batched.db")
    writer = ActivityWriter(database, EventBus(), max_queue=entries + 1)
    writer.start()
    calls: list[float] = []
    with activity.installed(writer):
        began = time.perf_counter()
        for number in range(entries):
            started = time.perf_counter()
            log_activity("sync", f"entry {number}")
            calls.append(time.perf_counter() - started)
        writer.flush()
        total = time.perf_counter() - began
    writer.close()
    assert _count(database) == entries
    database.dispose()
    return calls, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--baseline-entries", type=int, default=2_000)
    args = parser.parse_args()
    logging.getLogger("jobwatch.activity").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        base_calls, base_total = baseline(Path(folder), args.baseline_entries)
        our_calls, our_total = batched(Path(folder), args.entries)
    base_rate = args.baseline_entries / base_total
    our_rate = args.entries / our_total
    rows = [
        (
            "caller time per call, median",
            statistics.median(base_calls),
            statistics.median(our_calls),
        ),
        ("caller time per call, p99", _percentile(base_calls, 0.99), _percentile(our_calls, 0.99)),
    ]
    print(f"{'figure':<32}{'baseline':>14}{'log_activity':>14}{'ratio':>10}")
    for label, base, ours in rows:
        print(f"{label:<32}{base * 1e6:>11.1f} µs{ours * 1e6:>11.1f} µs{base / ours:>9.1f}x")
    print(
        f"{'throughput until committed':<32}{base_rate:>10.0f} /s{our_rate:>10.0f} /s"
        f"{our_rate / base_rate:>9.1f}x"
    )


if __name__ == "__main__":
    main()
