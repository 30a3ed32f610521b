"""Text and JSON columns keep what jobs produce, replacing what a database cannot hold.

A python job's result or an activity entry's details may carry a NUL, a lone
surrogate (a filename decoded with ``surrogateescape``) or NaN. The write must not
fail, and the row must read back as valid JSON-able Unicode on both backends.
"""

import json
from datetime import UTC, datetime

from sqlalchemy import insert, select

from collector.runs import run_view
from collector.store.database import Database
from collector.store.models import ActivityLog, Run

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_a_run_with_unstorable_text_and_numbers_is_kept_cleaned(db: Database) -> None:
    with db.write() as session:
        run = Run(
            job="files",
            status="failed",
            trigger="api",
            params={"path": "/data/\udcff.csv"},
            queued_at=NOW,
            error="bad byte \x00 here",
            log_tail="line with \ud800 in it",
            result={"ratio": float("nan"), "names": ["ok", "\udc80"], "\x00key": 1},
        )
        session.add(run)
        session.flush()
        run_id = run.id
    with db.read() as session:
        stored = session.get(Run, run_id)
        assert stored is not None
        view = run_view(stored)
    assert view["error"] == "bad byte \ufffd here"
    assert view["log_tail"] == "line with \ufffd in it"
    assert view["params"] == {"path": "/data/\ufffd.csv"}
    assert view["result"] == {"ratio": None, "names": ["ok", "\ufffd"], "\ufffdkey": 1}
    json.dumps(view, allow_nan=False).encode("utf-8")


def test_activity_details_with_unstorable_values_are_kept_cleaned(db: Database) -> None:
    with db.write() as session:
        session.execute(
            insert(ActivityLog),
            [
                {
                    "timestamp": NOW,
                    "type": "job",
                    "status": "info",
                    "message": "file \udcff done\x00",
                    "details": {"file": "\udcff", "size": float("inf")},
                }
            ],
        )
    with db.read() as session:
        entry = session.scalars(select(ActivityLog).where(ActivityLog.timestamp == NOW)).one()
    assert entry.message == "file \ufffd done\ufffd"
    assert entry.details == {"file": "\ufffd", "size": None}
