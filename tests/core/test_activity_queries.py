"""Activity filters, cursor pagination and exports return exactly the matching rows.

The same data set is queried through ``collector.store.queries`` on SQLite and
PostgreSQL, and through the HTTP API of a real collector. Expected results come from
a plain Python predicate over the inserted rows, so any disagreement (a timestamp tie
across a page boundary, a ``%`` or ``_`` in the search text, an off-by-one at a date
bound) shows up as a wrong id list.
"""

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert

from collector.activity import ACTIVITY_STATUSES, ACTIVITY_TYPES, make_row
from collector.retention import window_start
from collector.store import migrate
from collector.store.database import Database
from collector.store.models import ActivityLog
from collector.store.queries import ActivityFilter, BadCursor, activity_page, activity_stream
from tests.support.process import CollectorProcess, wait_for

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
MESSAGES = [
    "Synced 50% of the CRM contacts",
    "Synced 500 contacts",
    "found under_score in the feed",
    "found underXscore in the feed",
    "crm sync finished",
    "Scraped the events page",
    'quotes "and", commas\nand a newline',
]
JOBS = ["crm", "feed", None]


def dataset(now: datetime, count: int = 90) -> list[dict[str, Any]]:
    """Rows spread over ~3 days with timestamp ties, every type, status, job and message."""
    rows = []
    for i in range(count):
        stamp = now - timedelta(minutes=47 * (i - i % 4 // 3))  # row 4k+3 shares 4k+2's stamp
        rows.append(
            make_row(
                ACTIVITY_TYPES[i % len(ACTIVITY_TYPES)],
                f"{MESSAGES[i % len(MESSAGES)]} #{i}",
                status=ACTIVITY_STATUSES[i % len(ACTIVITY_STATUSES)],
                job=JOBS[i % len(JOBS)],
                run_id=i % 5 or None,
                details={"i": i, "text": 'a "quoted", value'} if i % 2 else None,
                timestamp=stamp,
            )
        )
    return rows


def insert_rows(db: Database, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert through the store; returns the rows with their ids."""
    with db.write() as session:
        ids = session.scalars(
            insert(ActivityLog).returning(ActivityLog.id, sort_by_parameter_order=True), rows
        ).all()
    return [{**row, "id": row_id} for row_id, row in zip(ids, rows, strict=True)]


def matches(row: dict[str, Any], where: ActivityFilter) -> bool:
    return (
        (where.since is None or row["timestamp"] >= where.since)
        and (where.until is None or row["timestamp"] < where.until)
        and (where.type is None or row["type"] == where.type)
        and (where.status is None or row["status"] == where.status)
        and (where.job is None or row["job"] == where.job)
        and (where.run_id is None or row["run_id"] == where.run_id)
        and (where.text is None or where.text.lower() in row["message"].lower())
    )


def expected_ids(rows: list[dict[str, Any]], where: ActivityFilter) -> list[int]:
    chosen = [row for row in rows if matches(row, where)]
    chosen.sort(key=lambda row: (row["timestamp"], row["id"]), reverse=True)
    return [row["id"] for row in chosen]


FILTERS: dict[str, ActivityFilter] = {
    "everything": ActivityFilter(),
    "type": ActivityFilter(type="sync"),
    "status": ActivityFilter(status="error"),
    "job": ActivityFilter(job="crm"),
    "text, any case": ActivityFilter(text="CRM"),
    "text with %": ActivityFilter(text="50%"),
    "text with _": ActivityFilter(text="under_score"),
    "run": ActivityFilter(run_id=3),
    "days=0": ActivityFilter(since=window_start(0, NOW)),
    "days=1": ActivityFilter(since=window_start(1, NOW)),
    "date range": ActivityFilter(since=NOW - timedelta(hours=30), until=NOW - timedelta(hours=6)),
    "combined": ActivityFilter(since=window_start(2, NOW), type="scrape", status="info", job="crm"),
    "nothing matches": ActivityFilter(type="alert", job="nope"),
}


@pytest.fixture
def rows(db: Database) -> list[dict[str, Any]]:
    with db.write() as session:
        session.execute(delete(ActivityLog))  # rolled back with the test
    return insert_rows(db, dataset(NOW))


def test_the_data_set_exercises_every_filter(rows: list[dict[str, Any]]) -> None:
    """Guards the other tests against a data set where a filter matches all or nothing."""
    for name, where in FILTERS.items():
        count = len(expected_ids(rows, where))
        if name == "everything":
            assert count == len(rows)
        elif name == "nothing matches":
            assert count == 0
        else:
            assert 0 < count < len(rows), name
    stamps = [row["timestamp"] for row in rows]
    assert len(set(stamps)) < len(stamps), "the data set must contain timestamp ties"
    assert len(expected_ids(rows, FILTERS["text with %"])) < len(
        [row for row in rows if "50" in row["message"]]
    )


@pytest.mark.parametrize("name", list(FILTERS))
def test_filters_and_pages_return_exactly_the_matching_rows(
    db: Database, rows: list[dict[str, Any]], name: str
) -> None:
    where = FILTERS[name]
    want = expected_ids(rows, where)
    with db.read() as session:
        for limit in (1, 7, 1000):
            collected: list[int] = []
            cursor: str | None = None
            pages = 0
            while True:
                page, cursor = activity_page(session, where, limit=limit, cursor=cursor)
                pages += 1
                assert len(page) <= limit
                assert cursor is None or len(page) == limit
                collected.extend(row.id for row in page)
                if cursor is None:
                    break
                assert pages <= len(rows) + 1, "pagination does not end"
            assert collected == want, limit
            streamed = [row.id for row in activity_stream(session, where, chunk=limit)]
            assert streamed == want, limit


def test_a_cursor_not_from_the_server_is_rejected(db: Database) -> None:
    with db.read() as session, pytest.raises(BadCursor):
        activity_page(session, ActivityFilter(), limit=5, cursor="not-a-cursor!")


# --- the same through the HTTP API of a real collector --------------------------------


def _pages(collector: CollectorProcess, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        response = collector.api("GET", "/activity/recent", params={**params, "cursor": cursor})
        assert response.status_code == 200, response.text
        body = response.json()
        yield from body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return


@pytest.fixture
def seeded_collector(
    collector_process: type[CollectorProcess], tmp_path: Path
) -> tuple[CollectorProcess, list[dict[str, Any]], int]:
    """A collector whose SQLite file holds the data set, 2500 ``extract`` rows, 3 expired."""
    now = datetime.now(UTC)
    database = Database(f"sqlite:///{tmp_path / 'jobwatch.db'}")
    try:
        migrate.upgrade(database)
        rows = insert_rows(database, dataset(now))
        bulk = [
            make_row(
                "extract",
                f'Extracted {i} events, "{i}" emails\nfrom page',
                job="bulk",
                details={"page": i},
                timestamp=now - timedelta(seconds=i),
            )
            for i in range(2500)
        ]
        rows += insert_rows(database, bulk)
        insert_rows(database, [make_row("sync", "expired", timestamp=now - timedelta(days=40))] * 3)
    finally:
        database.dispose()
    collector = collector_process({"retention_days": 7, "jobs": []}).start()
    return collector, rows, len(bulk)


def test_http_filters_pagination_and_exports(
    seeded_collector: tuple[CollectorProcess, list[dict[str, Any]], int],
) -> None:
    collector, rows, bulk = seeded_collector
    now = datetime.now(UTC)
    week = window_start(7, now)
    # Start-up retention removed exactly the three expired rows, and said so.
    cleanup = wait_for(
        lambda: list(_pages(collector, {"type": "task", "q": "Retention cleanup", "limit": 10})),
        what="the start-up retention entry",
    )
    assert cleanup[0]["details"] == {"deleted": 3, "retention_days": 7}
    assert list(_pages(collector, {"q": "expired", "days": 30})) == []

    cases: list[tuple[dict[str, Any], ActivityFilter]] = [
        ({"type": "sync", "limit": 4}, ActivityFilter(since=week, type="sync")),
        (
            {"status": "error", "job": "crm", "limit": 3},
            ActivityFilter(since=week, status="error", job="crm"),
        ),
        ({"q": "under_score", "limit": 2}, ActivityFilter(since=week, text="under_score")),
        ({"q": "50%", "type": "scrape"}, ActivityFilter(since=week, text="50%", type="scrape")),
        (
            {"days": 0, "job": "feed", "limit": 5},
            ActivityFilter(since=window_start(0, now), job="feed"),
        ),
        (
            {
                "job": "crm",
                "date_from": (now - timedelta(hours=30)).isoformat(),
                "date_to": (now - timedelta(hours=6)).isoformat(),
                "limit": 3,
            },
            ActivityFilter(
                since=now - timedelta(hours=30), until=now - timedelta(hours=6), job="crm"
            ),
        ),
        ({"type": "extract", "limit": 1000}, ActivityFilter(since=week, type="extract")),
    ]
    for params, where in cases:
        got = [item["id"] for item in _pages(collector, params)]
        assert got == expected_ids(rows, where), params
        assert got, f"{params} matched nothing, so it proves nothing"

    first = collector.api("GET", "/activity/recent", params={"job": "crm", "limit": 1}).json()[
        "items"
    ][0]
    assert set(first) == {
        "id",
        "timestamp",
        "type",
        "status",
        "message",
        "details",
        "user",
        "job",
        "run_id",
    }

    for params, field in (
        ({"type": "nonsense"}, "type"),
        ({"status": "fine"}, "status"),
        ({"days": 31}, "days"),
        ({"limit": 0}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
    ):
        response = collector.api("GET", "/activity/recent", params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"][-1] == field

    want = expected_ids(rows, ActivityFilter(since=week, type="extract"))
    assert len(want) == bulk + len(expected_ids(rows[:-bulk], ActivityFilter(type="extract")))
    with collector.http.stream(
        "GET", "/api/v1/activity/export", params={"format": "ndjson", "type": "extract"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        ndjson = [json.loads(line) for line in response.iter_lines() if line]
    assert [entry["id"] for entry in ndjson] == want
    by_id = {row["id"]: row for row in rows}
    assert all(entry["message"] == by_id[entry["id"]]["message"] for entry in ndjson)

    response = collector.api("GET", "/activity/export", params={"format": "csv", "type": "extract"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(line["id"]) for line in table] == want
    for line in table:
        row = by_id[int(line["id"])]
        assert line["message"] == row["message"]
        assert (json.loads(line["details"]) if line["details"] else None) == row["details"]

    crm = collector.api(
        "GET", "/activity/export", params={"format": "csv", "job": "crm", "q": "crm"}
    )
    assert [int(line["id"]) for line in csv.DictReader(io.StringIO(crm.text))] == expected_ids(
        rows, ActivityFilter(since=week, job="crm", text="crm")
    )
