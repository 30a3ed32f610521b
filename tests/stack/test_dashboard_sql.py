"""Every SQL query of the dashboards runs on a real PostgreSQL migrated by jobwatch.

Grafana's macros are replaced the way Grafana expands them, the tables get a few rows,
and each query must run and return what its panel shows. Writes are rolled back.
"""

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection

from tests.stack.helpers import load_dashboard_generator

pytestmark = pytest.mark.postgres

generator = load_dashboard_generator()

JOB = "crm_contacts"


def expand(query: str) -> str:
    """Expand Grafana's macros and variables as Grafana does for PostgreSQL."""
    query = re.sub(
        r"\$__timeFilter\(((?:[^()]|\([^()]*\))+)\)",
        r"\1 BETWEEN '2026-01-01T00:00:00Z' AND '2100-01-01T00:00:00Z'",
        query,
    )
    query = query.replace("${job:sqlstring}", f"'{JOB}','events'")
    query = query.replace("${type:sqlstring}", "'job','alert','error'")
    assert "$" not in query, query
    return query


@pytest.fixture
def connection(postgres_database) -> Iterator[Connection]:
    with postgres_database.engine.connect() as connection:
        transaction = connection.begin()
        try:
            _insert_rows(connection)
            yield connection
        finally:
            transaction.rollback()


def _insert_rows(connection: Connection) -> None:
    run_ids = connection.exec_driver_sql(
        """
        INSERT INTO runs (job, status, trigger, params, dry_run, queued_at, started_at,
                          finished_at, duration_seconds, records_processed, records_created,
                          records_updated, records_failed, error, trace_id)
        VALUES
          ('crm_contacts', 'success', 'schedule', '{"full": true}', false,
           '2026-06-01T10:00:00Z', '2026-06-01T10:00:01Z', '2026-06-01T10:00:31Z', 30,
           100, 10, 80, 0, NULL, '0af7651916cd43dd8448eb211c80319c'),
          ('crm_contacts', 'failed', 'manual', '{}', false,
           '2026-06-01T11:00:00Z', '2026-06-01T11:00:01Z', '2026-06-01T11:00:05Z', 4,
           0, 0, 0, 0, 'HubSpot answered 503', NULL),
          ('events', 'success', 'schedule', '{}', false,
           '2026-06-01T11:00:00Z', '2026-06-01T11:00:01Z', '2026-06-01T11:00:02Z', 1,
           5, 5, 0, 0, NULL, NULL)
        RETURNING id
        """
    ).fetchall()
    connection.exec_driver_sql(
        """
        INSERT INTO activity_log ("timestamp", type, status, message, details, "user", job, run_id)
        VALUES
          ('2026-06-01T11:00:05Z', 'job', 'error', 'crm_contacts failed', '{}', NULL,
           'crm_contacts', NULL),
          ('2026-06-01T11:01:00Z', 'alert', 'warning', 'JobwatchJobFailed firing',
           '{"alertname": "JobwatchJobFailed"}', NULL, 'crm_contacts', NULL),
          ('2026-06-01T11:02:00Z', 'system', 'info', 'collector started', NULL, NULL, NULL, NULL)
        """
    )
    connection.exec_driver_sql(
        """
        INSERT INTO task_status (task_name, last_run, next_run, status, last_error, last_result)
        VALUES ('retention_cleanup', '2026-06-01T00:00:00Z', '2026-06-02T00:00:00Z', 'success',
                NULL, '{"deleted": 3}')
        """
    )
    connection.info["run_ids"] = {row[0] for row in run_ids}


def _rows(connection: Connection, query: str) -> list[dict]:
    return [dict(row._mapping) for row in connection.exec_driver_sql(expand(query))]


def _query(fragment: str) -> str:
    """The one query containing ``fragment`` (annotations repeat on every dashboard)."""
    (query,) = {q for q in generator.sql_queries() if fragment in q}
    return query


def test_every_dashboard_query_runs(connection: Connection) -> None:
    for query in generator.sql_queries():
        connection.exec_driver_sql("SAVEPOINT query")
        try:
            connection.exec_driver_sql(expand(query)).fetchall()
        except Exception as exc:
            pytest.fail(f"{query}\n{exc}")
        connection.exec_driver_sql("RELEASE SAVEPOINT query")


def test_recent_runs_show_the_job_newest_first(connection: Connection) -> None:
    ours = connection.info["run_ids"]
    rows = [
        r
        for r in _rows(connection, _query("records_processed, records_created"))
        if r["id"] in ours
    ]
    # Newest first: the events run, then the failed and the successful crm_contacts runs.
    assert [(r["status"], r["error"]) for r in rows] == [
        ("success", None),
        ("failed", "HubSpot answered 503"),
        ("success", None),
    ]
    assert rows[2]["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert rows[2]["params"] == '{"full": true}'


def test_alert_history_and_background_tasks(connection: Connection) -> None:
    alerts = _rows(connection, _query("type = 'alert'"))
    assert [a["message"] for a in alerts] == ["JobwatchJobFailed firing"]
    tasks = _rows(connection, _query("FROM task_status"))
    assert [(t["task_name"], t["status"]) for t in tasks] == [("retention_cleanup", "success")]


def test_run_annotations(connection: Connection) -> None:
    runs = _rows(connection, _query("AS timeend"))
    assert {(re.sub(r"run \d+", "run N", r["text"]), r["tags"]) for r in runs} >= {
        ("crm_contacts success (schedule, run N)", "crm_contacts,success"),
        ("crm_contacts failed (manual, run N)", "crm_contacts,failed"),
        ("events success (schedule, run N)", "events,success"),
    }
    assert all(r["timeend"] > r["time"] for r in runs)
    failed = _rows(connection, _query("COALESCE(error, '')"))
    assert "crm_contacts failed: HubSpot answered 503" in [r["text"] for r in failed]
    assert all(not r["text"].startswith("events") for r in failed)
