"""Generate the jobwatch Grafana dashboards: ``grafana/dashboards/*.json``.

The dashboards are code. Change this file, then run

    .venv/bin/python grafana/generate_dashboards.py

and commit the JSON it writes; ``tests/stack/test_dashboards.py`` fails when the
committed JSON differs from what this script produces. Plain Python, no dependency.

``promql_expressions()`` lists the PromQL of every panel, so the queries can be run
against a real Prometheus; ``sql_queries()`` does the same for the PostgreSQL panels.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"

# Fixed uids of grafana/provisioning/datasources/jobwatch.yml.
POSTGRES = {"type": "grafana-postgresql-datasource", "uid": "jobwatch-postgres"}
TEMPO_UID = "jobwatch-tempo"
# Prometheus panels follow the $datasource variable.
PROMETHEUS = {"type": "prometheus", "uid": "${datasource}"}

SCHEMA_VERSION = 39
FAILED_STATUSES = "failed|timed_out|abandoned"
RUN_STATUSES = [
    "queued",
    "running",
    "success",
    "partial",
    "failed",
    "cancelled",
    "timed_out",
    "abandoned",
]
ACTIVITY_TYPES = [
    "scrape",
    "sync",
    "extract",
    "job",
    "task",
    "probe",
    "alert",
    "user_action",
    "system",
    "error",
]
STATUS_COLORS = {
    "queued": "blue",
    "running": "purple",
    "success": "green",
    "partial": "yellow",
    "failed": "red",
    "cancelled": "text",
    "timed_out": "orange",
    "abandoned": "dark-red",
    "info": "blue",
    "warning": "yellow",
    "error": "red",
}

Panel = dict[str, Any]


# --------------------------------------------------------------------------- targets


def prom(
    expr: str,
    legend: str = "",
    *,
    instant: bool = False,
    exemplar: bool = False,
    table: bool = False,
) -> dict:
    """A Prometheus query; ``table`` makes it an instant query in table format."""
    instant = instant or table
    target: dict[str, Any] = {
        "datasource": PROMETHEUS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }
    if exemplar:
        target["exemplar"] = True
    if table:
        target["format"] = "table"
    return target


def sql(query: str, *, fmt: str = "table") -> dict:
    return {
        "datasource": POSTGRES,
        "editorMode": "code",
        "format": fmt,
        "rawQuery": True,
        "rawSql": " ".join(query.split()),
    }


# ---------------------------------------------------------------------------- panels


def _panel(kind: str, title: str, targets: list[dict], description: str, **extra: Any) -> Panel:
    datasource = targets[0]["datasource"] if targets else PROMETHEUS
    for i, target in enumerate(targets):
        target["refId"] = chr(ord("A") + i)
    panel: Panel = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource,
        "targets": targets,
    }
    panel.update(extra)
    return panel


def timeseries(
    title: str,
    targets: list[dict],
    description: str,
    *,
    unit: str = "short",
    bars: bool = False,
    stacked: bool = False,
    overrides: list | None = None,
    min_value: float | None = 0,
) -> Panel:
    custom: dict[str, Any] = {
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 60 if bars else 10,
        "lineWidth": 1,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
    }
    defaults: dict[str, Any] = {"unit": unit, "custom": custom}
    if min_value is not None:
        defaults["min"] = min_value
    return _panel(
        "timeseries",
        title,
        targets,
        description,
        fieldConfig={"defaults": defaults, "overrides": overrides or []},
        options={
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )


def stat(
    title: str,
    targets: list[dict],
    description: str,
    *,
    unit: str = "short",
    thresholds: list[tuple[float | None, str]] | None = None,
    decimals: int | None = None,
    mappings: list | None = None,
    text_mode: str = "auto",
    fields: str = "",
) -> Panel:
    steps = [{"color": color, "value": value} for value, color in (thresholds or [(None, "blue")])]
    defaults: dict[str, Any] = {
        "unit": unit,
        "thresholds": {"mode": "absolute", "steps": steps},
        "color": {"mode": "thresholds"},
        "mappings": mappings or [],
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    return _panel(
        "stat",
        title,
        targets,
        description,
        fieldConfig={"defaults": defaults, "overrides": []},
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": fields, "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "auto",
            "textMode": text_mode,
            "orientation": "auto",
        },
    )


def table(
    title: str,
    targets: list[dict],
    description: str,
    *,
    overrides: list | None = None,
    transformations: list | None = None,
    sort_by: str | None = None,
) -> Panel:
    options: dict[str, Any] = {"showHeader": True, "cellHeight": "sm"}
    if sort_by:
        options["sortBy"] = [{"displayName": sort_by, "desc": True}]
    return _panel(
        "table",
        title,
        targets,
        description,
        fieldConfig={"defaults": {"custom": {"filterable": True}}, "overrides": overrides or []},
        options=options,
        transformations=transformations or [],
    )


def state_timeline(
    title: str, targets: list[dict], description: str, *, mappings: list | None = None
) -> Panel:
    return _panel(
        "state-timeline",
        title,
        targets,
        description,
        fieldConfig={
            "defaults": {
                "color": {"mode": "thresholds"},
                "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None}]},
                "mappings": mappings or [],
                "custom": {"fillOpacity": 80, "lineWidth": 0},
            },
            "overrides": [],
        },
        options={
            "showValue": "auto",
            "mergeValues": True,
            "rowHeight": 0.9,
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
            "tooltip": {"mode": "single", "sort": "none"},
        },
    )


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def text_mappings(colors: dict[str, str]) -> list:
    return [
        {
            "type": "value",
            "options": {
                value: {"color": color, "index": i, "text": value}
                for i, (value, color) in enumerate(colors.items())
            },
        }
    ]


def status_mappings() -> list:
    return text_mappings({s: STATUS_COLORS[s] for s in RUN_STATUSES})


def color_by_name(names: dict[str, str]) -> list:
    return [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
        }
        for name, color in names.items()
    ]


def column_unit(name: str, unit: str) -> dict:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": "unit", "value": unit}],
    }


def colored_text_column(name: str, colors: dict[str, str]) -> dict:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [
            {"id": "mappings", "value": text_mappings(colors)},
            {"id": "custom.cellOptions", "value": {"type": "color-text"}},
        ],
    }


def trace_link_column(name: str = "trace_id") -> dict:
    """A table column whose value opens the trace in Tempo."""
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [
            {
                "id": "links",
                "value": [
                    {
                        "title": "Open trace",
                        "url": "",
                        "internal": {
                            "datasourceUid": TEMPO_UID,
                            "datasourceName": "Tempo",
                            "query": {"query": "${__value.raw}", "queryType": "traceql"},
                        },
                    }
                ],
            }
        ],
    }


def job_link_column(name: str = "job") -> dict:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [
            {
                "id": "links",
                "value": [
                    {
                        "title": "Job dashboard",
                        "url": "/d/jobwatch-job/jobwatch-job"
                        "?var-job=${__value.raw}&${__url_time_range}",
                    }
                ],
            }
        ],
    }


# ------------------------------------------------------------------------- variables


def datasource_variable() -> dict:
    return {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {"selected": False, "text": "Prometheus", "value": "jobwatch-prometheus"},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def query_variable(name: str, label: str, query: str, *, multi: bool, include_all: bool) -> dict:
    variable: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": PROMETHEUS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": include_all,
        "hide": 0,
        "regex": "",
        "options": [],
    }
    if include_all:
        variable["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return variable


def source_variable() -> dict:
    return query_variable(
        "source", "Source", "label_values(jobwatch_job_info, source)", multi=True, include_all=True
    )


def job_variable(*, multi: bool) -> dict:
    return query_variable(
        "job",
        "Job",
        'label_values(jobwatch_job_info{source=~"$source"}, job)',
        multi=multi,
        include_all=multi,
    )


def custom_variable(name: str, label: str, values: list[str]) -> dict:
    return {
        "name": name,
        "label": label,
        "type": "custom",
        "query": ",".join(values),
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
    }


# ----------------------------------------------------------------------- annotations


def run_annotations() -> list[dict]:
    """Run starts and ends from the database, as Grafana annotations."""
    return [
        {
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True,
            "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        },
        {
            "name": "Runs",
            "datasource": POSTGRES,
            "enable": True,
            "iconColor": "blue",
            "target": sql(
                """
                SELECT started_at AS time, finished_at AS timeend,
                       job || ' ' || status || ' (' || trigger || ', run ' || id || ')' AS text,
                       job || ',' || status AS tags
                FROM runs
                WHERE $__timeFilter(started_at) AND job IN (${job:sqlstring})
                ORDER BY started_at
                """
            )
            | {"refId": "Runs"},
        },
        {
            "name": "Failed runs",
            "datasource": POSTGRES,
            "enable": True,
            "iconColor": "red",
            "target": sql(
                """
                SELECT finished_at AS time,
                       job || ' ' || status || ': ' || COALESCE(error, '') AS text,
                       job || ',' || status AS tags
                FROM runs
                WHERE $__timeFilter(finished_at) AND job IN (${job:sqlstring})
                  AND status IN ('failed', 'timed_out', 'abandoned')
                ORDER BY finished_at
                """
            )
            | {"refId": "Failed"},
        },
    ]


# ------------------------------------------------------------------------ dashboards

Layout = list[tuple[Panel, int, int]]  # (panel, width, height), laid out left to right


def dashboard(
    uid: str, title: str, description: str, variables: list[dict], layout: Layout
) -> dict:
    """A dashboard with the run annotations; panels flow left to right, 24 columns wide."""
    panels: list[Panel] = []
    x = y = line_height = 0
    for number, (panel, width, height) in enumerate(layout, start=1):
        if x + width > 24 or panel["type"] == "row":
            x, y, line_height = 0, y + line_height, 0
        panels.append({"id": number, "gridPos": {"h": height, "w": width, "x": x, "y": y}} | panel)
        x += width
        line_height = max(line_height, height)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["jobwatch"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "templating": {"list": variables},
        "annotations": {"list": run_annotations()},
        "links": [
            {
                "title": "jobwatch",
                "type": "dashboards",
                "tags": ["jobwatch"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "panels": panels,
    }


def over_interval(function: str, selector: str) -> str:
    """``rate(selector[$__rate_interval])`` and the like: every range is $__rate_interval."""
    return f"{function}({selector}[$__rate_interval])"


def duration_quantile(quantile: float, job: str) -> str:
    buckets = over_interval("rate", f"jobwatch_job_run_duration_seconds_bucket{{{job}}}")
    return f"histogram_quantile({quantile}, sum by (le) ({buckets}))"


FINISHED_COLORS = {s: STATUS_COLORS[s] for s in RUN_STATUSES if s not in ("queued", "running")}
ACTIVITY_STATUS_COLORS = {"info": "blue", "success": "green", "warning": "yellow", "error": "red"}
UP_DOWN = [
    {
        "type": "value",
        "options": {
            "0": {"color": "red", "index": 0, "text": "down"},
            "1": {"color": "green", "index": 1, "text": "up"},
        },
    }
]


def overview() -> dict:
    job = 'job=~"$job"'
    runs = f"jobwatch_job_runs_total{{{job}}}"
    increase6h = "job_status:jobwatch_job_runs:increase6h"
    stale = (
        f"(time() - jobwatch_job_last_success_timestamp_seconds{{{job}}})"
        f" > jobwatch_job_stale_after_seconds{{{job}}}"
    )
    success_rate = over_interval("rate", f'jobwatch_job_runs_total{{{job}, status="success"}}')
    records = f'jobwatch_job_records_total{{{job}, outcome=~"created|updated|failed"}}'

    jobs_table = table(
        "Jobs: last success, failures, next run",
        [
            prom(f"jobwatch_job_info{{{job}}}", table=True),
            prom(f"time() - jobwatch_job_last_success_timestamp_seconds{{{job}}}", table=True),
            prom(f"jobwatch_job_stale_after_seconds{{{job}}}", table=True),
            prom(f"job:jobwatch_job_runs:failure_ratio6h{{{job}}}", table=True),
            prom(f"jobwatch_job_next_run_timestamp_seconds{{{job}}} * 1000", table=True),
            prom(f"jobwatch_job_last_run_timestamp_seconds{{{job}}} * 1000", table=True),
        ],
        "One line per job. Stale = the time since the last success is over stale after.",
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {
                        "Time": True,
                        "Value #A": True,
                        "instance": True,
                        "__name__": True,
                    },
                    "renameByName": {
                        "Value #B": "since last success",
                        "Value #C": "stale after",
                        "Value #D": "failure ratio 6h",
                        "Value #E": "next run",
                        "Value #F": "last run",
                    },
                    "indexByName": {"job": 0, "source": 1, "kind": 2, "schedule": 3},
                },
            },
        ],
        overrides=[
            job_link_column(),
            column_unit("since last success", "s"),
            column_unit("stale after", "s"),
            column_unit("failure ratio 6h", "percentunit"),
            column_unit("next run", "dateTimeFromNow"),
            column_unit("last run", "dateTimeFromNow"),
        ],
    )
    alerts_table = table(
        "Firing jobwatch alerts",
        [prom('ALERTS{alertname=~"Jobwatch.+", alertstate="firing"}', table=True)],
        "Alerts Prometheus currently fires for jobwatch.",
        transformations=[
            {
                "id": "organize",
                "options": {"excludeByName": {"Time": True, "Value": True, "__name__": True}},
            }
        ],
    )
    return dashboard(
        "jobwatch-overview",
        "jobwatch / Overview",
        "All jobwatch jobs: runs by status, success, what runs now, failing and stale jobs.",
        [datasource_variable(), source_variable(), job_variable(multi=True)],
        [
            (row("Now"), 24, 1),
            (
                stat(
                    "Jobs",
                    [prom(f"count(jobwatch_job_info{{{job}}})", instant=True)],
                    "Configured jobs matching the variables.",
                ),
                4,
                4,
            ),
            (
                stat(
                    "Running now",
                    [prom(f"sum(jobwatch_job_runs_in_progress{{{job}}})", instant=True)],
                    "Runs in progress.",
                    thresholds=[(None, "blue"), (1, "purple")],
                ),
                4,
                4,
            ),
            (
                stat(
                    "Queued",
                    [prom(f"sum(jobwatch_job_runs_queued{{{job}}})", instant=True)],
                    "Runs waiting for a free slot (max_concurrent_runs).",
                    thresholds=[(None, "blue"), (1, "yellow")],
                ),
                4,
                4,
            ),
            (
                stat(
                    "Success ratio (6h)",
                    [
                        prom(
                            f'sum({increase6h}{{{job}, status="success"}})'
                            f" / sum({increase6h}{{{job}}})",
                            instant=True,
                        )
                    ],
                    "Successful runs / finished runs over the last 6 hours (recording rule).",
                    unit="percentunit",
                    decimals=1,
                    thresholds=[(None, "red"), (0.9, "yellow"), (0.99, "green")],
                ),
                4,
                4,
            ),
            (
                stat(
                    "Failing jobs (6h)",
                    [
                        prom(
                            f"count(job:jobwatch_job_runs:failure_ratio6h{{{job}}} > 0)"
                            " or vector(0)",
                            instant=True,
                        )
                    ],
                    "Jobs with a failed, timed-out or abandoned run in the last 6 hours.",
                    thresholds=[(None, "green"), (1, "red")],
                ),
                4,
                4,
            ),
            (
                stat(
                    "Stale jobs",
                    [prom(f"count({stale}) or vector(0)", instant=True)],
                    "Jobs whose last success is older than their stale_after.",
                    thresholds=[(None, "green"), (1, "orange")],
                ),
                4,
                4,
            ),
            (row("Runs"), 24, 1),
            (
                timeseries(
                    "Runs by status",
                    [prom(f"sum by (status) ({over_interval('increase', runs)})", "{{status}}")],
                    "Finished runs per interval, by final status.",
                    bars=True,
                    stacked=True,
                    overrides=color_by_name(FINISHED_COLORS),
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Success ratio",
                    [
                        prom(
                            f"sum by (job) ({success_rate})"
                            f" / sum by (job) ({over_interval('rate', runs)})",
                            "{{job}}",
                        )
                    ],
                    "Successful runs / finished runs, per job.",
                    unit="percentunit",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Running and queued",
                    [
                        prom(
                            f"sum by (job) (jobwatch_job_runs_in_progress{{{job}}})",
                            "{{job}} running",
                        ),
                        prom(f"sum by (job) (jobwatch_job_runs_queued{{{job}}})", "{{job}} queued"),
                    ],
                    "Runs in progress and waiting, per job.",
                    stacked=True,
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Run duration percentiles",
                    [
                        prom(duration_quantile(q, job), f"p{round(q * 100)}")
                        for q in (0.5, 0.9, 0.99)
                    ],
                    "Duration of the runs that finished in each interval, all selected jobs.",
                    unit="s",
                ),
                12,
                8,
            ),
            (row("Records"), 24, 1),
            (
                timeseries(
                    "Records created, updated, failed",
                    [
                        prom(
                            f"sum by (outcome) ({over_interval('increase', records)})",
                            "{{outcome}}",
                        )
                    ],
                    "Records per interval, by outcome.",
                    bars=True,
                    stacked=True,
                    overrides=color_by_name(
                        {"created": "green", "updated": "blue", "failed": "red"}
                    ),
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Failed records ratio (1h)",
                    [prom(f"job:jobwatch_job_records:failed_ratio1h{{{job}}}", "{{job}}")],
                    "Failed / processed records over the last hour (recording rule).",
                    unit="percentunit",
                ),
                12,
                8,
            ),
            (row("Jobs"), 24, 1),
            (jobs_table, 24, 9),
            (alerts_table, 24, 6),
        ],
    )


def job_detail() -> dict:
    job = 'job=~"$job"'
    runs = f"jobwatch_job_runs_total{{{job}}}"
    failures = f'jobwatch_job_runs_total{{{job}, status=~"{FAILED_STATUSES}|partial"}}'
    missed = f"jobwatch_scheduler_missed_runs_total{{{job}}}"
    records = f"jobwatch_job_records_total{{{job}}}"

    recent_runs = table(
        "Recent runs",
        [
            sql(
                """
                SELECT id, status, trigger, started_at, finished_at, duration_seconds,
                       records_processed, records_created, records_updated, records_failed,
                       error, trace_id, params::text AS params
                FROM runs
                WHERE job IN (${job:sqlstring})
                  AND $__timeFilter(COALESCE(started_at, queued_at))
                ORDER BY id DESC
                LIMIT 100
                """
            )
        ],
        "The job's runs from the database, newest first; trace_id opens the trace.",
        overrides=[
            colored_text_column("status", {s: STATUS_COLORS[s] for s in RUN_STATUSES}),
            column_unit("duration_seconds", "s"),
            trace_link_column(),
        ],
    )
    recent_errors = table(
        "Recent errors",
        [
            sql(
                """
                SELECT finished_at, id, status, error, trace_id
                FROM runs
                WHERE job IN (${job:sqlstring}) AND $__timeFilter(finished_at)
                  AND status IN ('failed', 'timed_out', 'abandoned', 'partial')
                ORDER BY finished_at DESC
                LIMIT 50
                """
            )
        ],
        "Runs that did not succeed, with their error.",
        overrides=[
            colored_text_column("status", {s: STATUS_COLORS[s] for s in RUN_STATUSES}),
            trace_link_column(),
        ],
    )
    job_activity = table(
        "Activity of this job",
        [
            sql(
                """
                SELECT "timestamp" AS "time", type, status, message, run_id, "user"
                FROM activity_log
                WHERE job IN (${job:sqlstring}) AND $__timeFilter("timestamp")
                ORDER BY "timestamp" DESC
                LIMIT 200
                """
            )
        ],
        "Activity log entries of the job.",
        overrides=[colored_text_column("status", ACTIVITY_STATUS_COLORS)],
    )
    return dashboard(
        "jobwatch-job",
        "jobwatch / Job",
        "One jobwatch job: its runs, durations (with trace exemplars), records and errors.",
        [datasource_variable(), source_variable(), job_variable(multi=False)],
        [
            (
                stat(
                    "Last status",
                    [
                        sql(
                            """
                            SELECT status FROM runs
                            WHERE job IN (${job:sqlstring}) AND finished_at IS NOT NULL
                            ORDER BY finished_at DESC LIMIT 1
                            """
                        )
                    ],
                    "Final status of the last finished run (database).",
                    mappings=status_mappings(),
                    text_mode="value",
                    fields="/^status$/",
                ),
                3,
                4,
            ),
            (
                stat(
                    "Last success",
                    [
                        prom(
                            f"jobwatch_job_last_success_timestamp_seconds{{{job}}} * 1000",
                            instant=True,
                        )
                    ],
                    "When the job last succeeded.",
                    unit="dateTimeFromNow",
                ),
                3,
                4,
            ),
            (
                stat(
                    "Next run",
                    [
                        prom(
                            f"jobwatch_job_next_run_timestamp_seconds{{{job}}} * 1000", instant=True
                        )
                    ],
                    "Next scheduled run.",
                    unit="dateTimeFromNow",
                ),
                3,
                4,
            ),
            (
                stat(
                    "Success ratio (6h)",
                    [prom(f"job:jobwatch_job_runs:success_ratio6h{{{job}}}", instant=True)],
                    "Successful runs / finished runs over the last 6 hours.",
                    unit="percentunit",
                    decimals=1,
                    thresholds=[(None, "red"), (0.9, "yellow"), (0.99, "green")],
                ),
                3,
                4,
            ),
            (
                stat(
                    "Running now",
                    [prom(f"sum(jobwatch_job_runs_in_progress{{{job}}})", instant=True)],
                    "Runs in progress.",
                    thresholds=[(None, "blue"), (1, "purple")],
                ),
                3,
                4,
            ),
            (
                stat(
                    "Last run duration",
                    [prom(f"jobwatch_job_last_run_duration_seconds{{{job}}}", instant=True)],
                    "Duration of the last finished run.",
                    unit="s",
                ),
                3,
                4,
            ),
            (
                stat(
                    "Last run",
                    [
                        prom(
                            f"jobwatch_job_last_run_timestamp_seconds{{{job}}} * 1000", instant=True
                        )
                    ],
                    "When the last run happened.",
                    unit="dateTimeFromNow",
                ),
                3,
                4,
            ),
            (
                stat(
                    "Stale after",
                    [prom(f"jobwatch_job_stale_after_seconds{{{job}}}", instant=True)],
                    "No success for this long raises JobwatchJobStale.",
                    unit="s",
                ),
                3,
                4,
            ),
            (
                state_timeline(
                    "Run timeline",
                    [
                        sql(
                            """
                            SELECT started_at AS "time", status
                            FROM runs
                            WHERE job IN (${job:sqlstring}) AND $__timeFilter(started_at)
                            ORDER BY started_at
                            """
                        )
                    ],
                    "Each run from its start, coloured by its status (database).",
                    mappings=status_mappings(),
                ),
                24,
                5,
            ),
            (
                timeseries(
                    "Run duration",
                    [
                        prom(duration_quantile(0.5, job), "p50", exemplar=True),
                        prom(duration_quantile(0.95, job), "p95", exemplar=True),
                        prom(f"jobwatch_job_last_run_duration_seconds{{{job}}}", "last run"),
                        prom(
                            f"job:jobwatch_job_last_run_duration_seconds:avg_over_time7d{{{job}}}",
                            "7-day average",
                        ),
                    ],
                    "Run durations; the dots are exemplars: click one to open the run's trace.",
                    unit="s",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Runs by status",
                    [prom(f"sum by (status) ({over_interval('increase', runs)})", "{{status}}")],
                    "Finished runs per interval.",
                    bars=True,
                    stacked=True,
                    overrides=color_by_name(FINISHED_COLORS),
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Records",
                    [
                        prom(
                            f"sum by (outcome) ({over_interval('increase', records)})",
                            "{{outcome}}",
                        )
                    ],
                    "Records processed, created, updated and failed per interval.",
                    overrides=color_by_name(
                        {
                            "processed": "text",
                            "created": "green",
                            "updated": "blue",
                            "failed": "red",
                        }
                    ),
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Errors",
                    [
                        prom(
                            f"sum by (status) ({over_interval('increase', failures)})",
                            "{{status}}",
                        ),
                        prom(f"sum({over_interval('increase', missed)})", "missed schedules"),
                    ],
                    "Runs that failed, timed out, were abandoned or ended partial; missed "
                    "schedules.",
                    bars=True,
                    overrides=color_by_name(
                        {
                            "failed": "red",
                            "timed_out": "orange",
                            "abandoned": "dark-red",
                            "partial": "yellow",
                            "missed schedules": "purple",
                        }
                    ),
                ),
                12,
                8,
            ),
            (recent_runs, 24, 10),
            (recent_errors, 12, 8),
            (job_activity, 12, 8),
        ],
    )


def activity() -> dict:
    types = 'type=~"${type:regex}"'
    events = f"jobwatch_activity_events_total{{{types}}}"

    recent_activity = table(
        "Recent activity",
        [
            sql(
                """
                SELECT "timestamp" AS "time", type, status, message, job, run_id, "user"
                FROM activity_log
                WHERE $__timeFilter("timestamp") AND type IN (${type:sqlstring})
                  AND (job IS NULL OR job IN (${job:sqlstring}))
                ORDER BY "timestamp" DESC
                LIMIT 500
                """
            )
        ],
        "The newest activity log entries (database).",
        overrides=[colored_text_column("status", ACTIVITY_STATUS_COLORS), job_link_column()],
    )
    background_tasks = table(
        "Background tasks",
        [
            sql(
                """
                SELECT task_name, status, last_run, next_run, last_error,
                       last_result::text AS last_result
                FROM task_status
                ORDER BY task_name
                """
            )
        ],
        "Every job and internal task (retention cleanup, probes): last and next run.",
        overrides=[
            colored_text_column(
                "status",
                {s: STATUS_COLORS[s] for s in RUN_STATUSES} | {"ok": "green", "error": "red"},
            )
        ],
    )
    alert_history = table(
        "Alert history",
        [
            sql(
                """
                SELECT "timestamp" AS "time", status, message, job, details::text AS details
                FROM activity_log
                WHERE type = 'alert' AND $__timeFilter("timestamp")
                ORDER BY "timestamp" DESC
                LIMIT 200
                """
            )
        ],
        "Alerts Alertmanager delivered to jobwatch, firing and resolved (database).",
        overrides=[colored_text_column("status", ACTIVITY_STATUS_COLORS)],
    )
    firing = 'ALERTS{alertname=~"Jobwatch.+", alertstate="firing"}'
    return dashboard(
        "jobwatch-activity",
        "jobwatch / Activity & status",
        "The activity log, background tasks, streams, WARP, probes and alert history.",
        [
            datasource_variable(),
            source_variable(),
            job_variable(multi=True),
            custom_variable("type", "Activity type", ACTIVITY_TYPES),
        ],
        [
            (row("Activity"), 24, 1),
            (
                timeseries(
                    "Activity by type",
                    [prom(f"sum by (type) ({over_interval('rate', events)})", "{{type}}")],
                    "Activity entries per second, by type.",
                    unit="ops",
                    stacked=True,
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Activity by status",
                    [prom(f"sum by (status) ({over_interval('rate', events)})", "{{status}}")],
                    "Activity entries per second, by status.",
                    unit="ops",
                    stacked=True,
                    overrides=color_by_name(ACTIVITY_STATUS_COLORS),
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Activity queue and drops",
                    [
                        prom("sum(jobwatch_activity_queue_size)", "queued entries"),
                        prom(
                            "sum by (reason) "
                            f"({over_interval('increase', 'jobwatch_activity_dropped_total')})",
                            "dropped: {{reason}}",
                        ),
                        prom(
                            f"sum({over_interval('increase', 'jobwatch_retention_deleted_total')})",
                            "deleted by retention",
                        ),
                    ],
                    "Entries waiting to be written, entries dropped, entries retention removed.",
                ),
                24,
                7,
            ),
            (recent_activity, 24, 10),
            (row("Status"), 24, 1),
            (background_tasks, 24, 8),
            (
                stat(
                    "Active streams",
                    [prom("sum by (source) (jobwatch_active_streams)", "{{source}}", instant=True)],
                    "Streams reported by the stream source (no value: no source answers).",
                ),
                6,
                6,
            ),
            (
                timeseries(
                    "Active streams over time",
                    [prom("sum by (source) (jobwatch_active_streams)", "{{source}}")],
                    "Gaps: the streams source was unavailable.",
                ),
                18,
                6,
            ),
            (
                state_timeline(
                    "WARP state",
                    [prom("max by (state) (jobwatch_warp_status)", "{{state}}")],
                    "Which WARP state was the current one over time.",
                    mappings=[
                        {
                            "type": "value",
                            "options": {
                                "0": {"color": "transparent", "index": 0, "text": " "},
                                "1": {"color": "green", "index": 1, "text": "current"},
                            },
                        }
                    ],
                ),
                12,
                7,
            ),
            (
                state_timeline(
                    "WARP connected, probes up",
                    [
                        prom("max(jobwatch_warp_connected)", "WARP connected"),
                        prom("max by (probe) (jobwatch_probe_up)", "probe {{probe}}"),
                    ],
                    "up = connected / answering, down = disconnected / failing.",
                    mappings=UP_DOWN,
                ),
                12,
                7,
            ),
            (
                timeseries(
                    "Probe durations",
                    [prom("max by (probe) (jobwatch_probe_duration_seconds)", "{{probe}}")],
                    "How long each probe took.",
                    unit="s",
                ),
                12,
                7,
            ),
            (
                stat(
                    "WARP last connected",
                    [
                        prom(
                            "max(jobwatch_warp_last_connected_timestamp_seconds) * 1000",
                            instant=True,
                        )
                    ],
                    "When WARP was last seen connected.",
                    unit="dateTimeFromNow",
                ),
                6,
                7,
            ),
            (
                stat(
                    "jobwatch version",
                    [prom("jobwatch_build_info", "{{version}}", instant=True)],
                    "The collector's version.",
                    text_mode="name",
                ),
                6,
                7,
            ),
            (row("Alerts"), 24, 1),
            (alert_history, 24, 9),
            (
                state_timeline(
                    "jobwatch alerts over time",
                    [
                        prom(
                            f"max by (alertname, job, source) ({firing})",
                            "{{alertname}} {{job}}{{source}}",
                        )
                    ],
                    "When each jobwatch alert fired (the ALERTS series of Prometheus).",
                    mappings=[
                        {
                            "type": "value",
                            "options": {"1": {"color": "red", "index": 0, "text": "firing"}},
                        }
                    ],
                ),
                24,
                7,
            ),
        ],
    )


def build_dashboards() -> dict[str, dict]:
    """File name -> dashboard model."""
    return {
        "jobwatch-overview.json": overview(),
        "jobwatch-job.json": job_detail(),
        "jobwatch-activity.json": activity(),
    }


def render(model: dict) -> str:
    return json.dumps(model, indent=2, sort_keys=True) + "\n"


# --------------------------------------------------------------------------- queries


def _targets(model: dict) -> list[dict]:
    return [target for panel in model["panels"] for target in panel.get("targets", [])]


def promql_expressions(variables: dict[str, str] | None = None) -> list[str]:
    """Every PromQL expression of every panel of every dashboard, in order.

    With ``variables`` (e.g. ``{"job": ".+", "source": ".+", "type": ".+",
    "__rate_interval": "1m"}``) the ``$name``, ``${name}`` and ``${name:fmt}`` references
    are replaced, giving queries a plain Prometheus can run.
    """
    expressions = [
        target["expr"]
        for model in build_dashboards().values()
        for target in _targets(model)
        if "expr" in target
    ]
    if variables is None:
        return expressions
    return [substitute(expr, variables) for expr in expressions]


def sql_queries() -> list[str]:
    """Every SQL query of the panels and annotations (Grafana macros left in)."""
    queries = []
    for model in build_dashboards().values():
        queries += [t["rawSql"] for t in _targets(model) if "rawSql" in t]
        queries += [a["target"]["rawSql"] for a in model["annotations"]["list"] if "target" in a]
    return queries


_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def substitute(text: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    return _VARIABLE.sub(replace, text)


def write(directory: Path = DASHBOARD_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in build_dashboards().items():
        path = directory / name
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else DASHBOARD_DIR):
        print(path)
