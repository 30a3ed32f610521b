"""End to end: the real collector, a real Prometheus on the shipped rules and a real
Alertmanager on the shipped routes, all on loopback.

One module fixture starts them once:

- ``jobwatch run`` with a manual command job that always exits 2 (``invoices``), a
  scheduled command job and a scheduled scrape job that succeed every second, and the
  streams and WARP probes against fakes, with an API token;
- ``prometheus`` on a copy of ``prometheus.local.yml`` (1s scrape and evaluation,
  targets moved to the test's ports) and of ``rules/*.yml`` with every ``for`` (and
  the 5m group interval) shortened;
- ``prometheus-alertmanager`` through the shipped entrypoint on a copy of
  ``alertmanager.local.yml``: 1s grouping, no quiet hours (the test may run at
  night), the jobwatch webhook pointed at the
  collector with the token in its ``credentials_file``, Slack, Discord and Telegram
  pointed at a recording receiver on loopback (which also gets a plain webhook per
  receiver, to see the exact labels), SMTP at a port that refuses connections;
- the recording receiver itself, which also serves the scrape job's page.

The tests make ``invoices`` fail and follow the alert to the receivers and into the
activity log, then run every PromQL query of the dashboards against that Prometheus.
"""

import os
import secrets
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tests.core.helpers import PYTHON, sync_job
from tests.fakes.acestream import FakeAcexy
from tests.fakes.warp_cli import FakeWarpCli
from tests.stack.helpers import (
    ALERTMANAGER_LOCAL_CONFIG,
    PROMETHEUS_DIR,
    load_dashboard_generator,
    load_yaml,
)
from tests.stack.services import LoopbackReceiver, Received, Service
from tests.support.binaries import require_binary
from tests.support.process import CollectorProcess, free_port, wait_for

pytestmark = pytest.mark.stack
T = TypeVar("T")

FAILING = "invoices"
TELEGRAM_TOKEN = "123456:e2e-test-token"
EVENTS_PAGE = (
    "<html><head><title>Events</title></head><body>"
    '<div class="event">a</div><div class="event">b</div><div class="event">c</div>'
    "</body></html>"
)
RUNBOOKS = "https://github.com/jobwatch/jobwatch/blob/main/docs/runbooks.md"
# Every `for` becomes 0s, except where the `for` is the condition itself, which keep
# one longer than the test: absent(up) is true at start-up, before the first scrape
# (fired, JobwatchCollectorAbsent would inhibit every job alert), and any run in
# progress matches JobwatchJobRunningTooLong's expression (its `for: 1h` is the "too
# long").
KEEP_FOR = {"JobwatchCollectorAbsent": "5m", "JobwatchJobRunningTooLong": "5m"}
EXPECTED_ALERTS = {"JobwatchJobFailed", "JobwatchJobFailingRepeatedly"}
DASHBOARD_VARIABLES = {"job": ".+", "source": ".+", "type": ".+", "__rate_interval": "1m"}
MIN_FRACTION_WITH_DATA = 0.6


@dataclass
class Stack:
    collector: CollectorProcess
    prometheus: Service
    alertmanager: Service
    receiver: LoopbackReceiver

    def query(self, promql: str) -> list[dict[str, Any]]:
        response = self.prometheus.http.get("/api/v1/query", params={"query": promql})
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", (
            f"{promql}\n-> HTTP {response.status_code}: {response.text}"
        )
        return body["data"]["result"]

    def run_failing_job(self) -> dict[str, Any]:
        response = self.collector.api("POST", f"/jobs/{FAILING}/runs", json={"params": {}})
        assert response.status_code == 202, response.text
        run = self.collector.wait_run(response.json()["id"])
        assert run["status"] == "failed", run
        return run

    def webhook_alert(self, receiver: str, alertname: str) -> dict[str, Any] | None:
        """The first firing ``alertname`` sent to ``receiver``'s loopback webhook."""
        return _first_alert(self.receiver.posts(f"/webhook/{receiver}"), alertname)

    def activity_alert(self, alertname: str) -> dict[str, Any] | None:
        response = self.collector.api(
            "GET", "/activity/recent", params={"type": "alert", "job": FAILING, "limit": 100}
        )
        assert response.status_code == 200, response.text
        prefix = f"[FIRING] {alertname}:"
        return next((i for i in response.json()["items"] if i["message"].startswith(prefix)), None)

    def assert_running(self) -> None:
        """No process died on the way (Alertmanager panics on some receiver answers)."""
        assert self.collector.process is not None
        assert self.collector.process.poll() is None, f"collector exited:\n{self.diagnostics()}"
        self.prometheus.assert_running()
        self.alertmanager.assert_running()

    def wait(self, condition: Callable[[], T], *, what: str, timeout: float = 30) -> T:
        """``wait_for`` that adds the logs of the three processes to its failure."""
        try:
            return wait_for(condition, timeout=timeout, interval=0.2, what=what)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.diagnostics()}") from None

    def diagnostics(self) -> str:
        return "\n\n".join(
            f"--- {name} log (tail) ---\n{log[-4000:]}"
            for name, log in (
                ("collector", self.collector.log()),
                ("prometheus", self.prometheus.log()),
                ("alertmanager", self.alertmanager.log()),
            )
        )


def _first_alert(posts: list[Received], alertname: str) -> dict[str, Any] | None:
    for post in posts:
        for alert in post.body.get("alerts", []) if isinstance(post.body, dict) else []:
            if alert["labels"].get("alertname") == alertname and alert["status"] == "firing":
                return {**alert, "receiver": post.body.get("receiver")}
    return None


def _slack_message(posts: list[Received], title: str) -> dict[str, Any] | None:
    for post in posts:
        for attachment in post.body.get("attachments", []) if isinstance(post.body, dict) else []:
            if attachment.get("title") == title:
                return attachment
    return None


# ----------------------------------------------------------------- configurations


def _write_secret(directory: Path, name: str, value: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(value)
    path.chmod(0o600)
    return path


def collector_config(receiver: LoopbackReceiver, acexy: FakeAcexy, warp: FakeWarpCli) -> dict:
    return {
        "api_token": secrets.token_urlsafe(24),
        "jobs": [
            {
                "name": FAILING,
                "kind": "command",
                "command": [PYTHON, "-c", "import sys; sys.exit(2)"],
                "source": "billing",
            },
            sync_job("contacts", "--total", "20", schedule="every 1s", source="shop"),
            {
                "name": "events",
                "kind": "scrape",
                "urls": [f"{receiver.url}/events"],
                "extract": {"events": {"css": ".event"}},
                "schedule": "every 1s",
                "source": "eventsite",
            },
        ],
        "probes": {
            "streams": {"acexy_url": acexy.url, "interval": "2s", "timeout": "1s"},
            "warp": {"command": warp.command(), "interval": "2s", "timeout": "1s"},
        },
    }


def prometheus_config(
    directory: Path, *, collector: str, prometheus: str, alertmanager: str
) -> Path:
    """prometheus.local.yml and the shipped rules, sped up, with the test's addresses."""
    config = load_yaml(PROMETHEUS_DIR / "prometheus.local.yml")
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [alertmanager]}]}]
    targets = {"jobwatch": collector, "prometheus": prometheus, "alertmanager": alertmanager}
    for scrape in config["scrape_configs"]:
        scrape["scrape_interval"] = "1s"
        scrape["static_configs"] = [{"targets": [targets[scrape["job_name"]]]}]
    (jobwatch,) = [s for s in config["scrape_configs"] if s["job_name"] == "jobwatch"]
    assert jobwatch.get("honor_labels") is True, "the shipped jobwatch scrape needs honor_labels"
    assert config["rule_files"] == ["rules/*.yml"]

    rules_dir = directory / "rules"
    rules_dir.mkdir(parents=True)
    for shipped in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
        rules = load_yaml(shipped)
        for group in rules["groups"]:
            if "interval" in group:
                group["interval"] = "1s"
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = KEEP_FOR.get(rule["alert"], "0s")
        (rules_dir / shipped.name).write_text(yaml.safe_dump(rules, sort_keys=False))
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _routes(route: dict) -> Iterator[dict]:
    yield route
    for child in route.get("routes", []):
        yield from _routes(child)


def alertmanager_config(
    directory: Path, *, collector_url: str, token: str, receiver_url: str, smtp: str
) -> Path:
    """alertmanager.local.yml with 1s grouping and every receiver on loopback."""
    config = load_yaml(ALERTMANAGER_LOCAL_CONFIG)
    secrets_dir = directory / "secrets"
    for route in _routes(config["route"]):
        for key in ("group_wait", "group_interval"):
            if key in route:
                route[key] = "1s"
        # Quiet hours would mute the warning routes when the test runs at night.
        route.pop("mute_time_intervals", None)

    config["global"]["slack_api_url_file"] = str(
        _write_secret(secrets_dir, "slack_webhook_url", f"{receiver_url}/slack")
    )
    discord_url_file = str(
        _write_secret(secrets_dir, "discord_webhook_url", f"{receiver_url}/discord/slack")
    )
    config["global"]["smtp_smarthost"] = smtp
    config["global"]["smtp_auth_password_file"] = str(
        _write_secret(secrets_dir, "smtp_password", "unused")
    )
    for receiver in config["receivers"]:
        name = receiver["name"]
        if name == "jobwatch-webhook":
            (webhook,) = receiver["webhook_configs"]
            assert webhook["url"] == "http://127.0.0.1:9108/api/v1/alerts/webhook"
            webhook["url"] = f"{collector_url}/api/v1/alerts/webhook"
            auth = webhook["http_config"]["authorization"]
            assert auth["type"] == "Bearer"
            auth["credentials_file"] = str(_write_secret(secrets_dir, "jobwatch_api_token", token))
            continue
        if name == "blackhole":
            continue
        for slack in receiver.get("slack_configs", []):
            if "api_url_file" in slack:  # Discord's Slack-compatible endpoint
                slack["api_url_file"] = discord_url_file
        for telegram in receiver.get("telegram_configs", []):
            assert telegram["bot_token"] == "${TELEGRAM_BOT_TOKEN}"
            telegram["api_url"] = f"{receiver_url}/telegram"
        # Not shipped: lets the test see each notification's exact labels.
        receiver.setdefault("webhook_configs", []).append(
            {"url": f"{receiver_url}/webhook/{name}", "send_resolved": True}
        )

    directory.mkdir(parents=True, exist_ok=True)
    shutil.copytree(PROMETHEUS_DIR / "templates", directory / "templates")
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# ----------------------------------------------------------------- the stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus_binary = require_binary("prometheus")
    alertmanager_binary = require_binary("prometheus-alertmanager", "alertmanager")
    tmp = tmp_path_factory.mktemp("e2e-alerting")
    with ExitStack() as cleanup:
        receiver = LoopbackReceiver(pages={"/events": EVENTS_PAGE})
        cleanup.callback(receiver.close)
        acexy = FakeAcexy("up", streams=2)
        cleanup.callback(acexy.close)
        warp = FakeWarpCli(tmp / "warp", "connected")
        # Bound but not listening: every SMTP connection is refused at once.
        refusing = cleanup.enter_context(socket.socket())
        refusing.bind(("127.0.0.1", 0))
        smtp = f"127.0.0.1:{refusing.getsockname()[1]}"

        collector_dir = tmp / "collector"
        collector_dir.mkdir()
        collector = CollectorProcess(collector_dir, collector_config(receiver, acexy, warp))
        cleanup.callback(collector.close)
        # No tracing export and no JOBWATCH_* settings from the caller's environment.
        collector.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "JOBWATCH_"))
        }
        collector.start()

        prometheus_port, alertmanager_port = free_port(), free_port()
        am_config = alertmanager_config(
            tmp / "alertmanager",
            collector_url=collector.url,
            token=collector.config["api_token"],
            receiver_url=receiver.url,
            smtp=smtp,
        )
        alertmanager = Service(
            "alertmanager",
            [
                "sh",
                str(PROMETHEUS_DIR / "alertmanager-entrypoint.sh"),
                f"--web.listen-address=127.0.0.1:{alertmanager_port}",
                f"--storage.path={tmp / 'alertmanager' / 'data'}",
                "--cluster.listen-address=",
            ],
            port=alertmanager_port,
            log_path=tmp / "alertmanager.log",
            env={
                **os.environ,
                "AM_CONFIG": str(am_config),
                "AM_RENDER_DIR": str(tmp / "alertmanager" / "render"),
                "AM_BINARY": alertmanager_binary,
                "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            },
        )
        cleanup.callback(alertmanager.stop)
        alertmanager.wait_ready()

        prom_config = prometheus_config(
            tmp / "prometheus",
            collector=f"127.0.0.1:{collector.port}",
            prometheus=f"127.0.0.1:{prometheus_port}",
            alertmanager=f"127.0.0.1:{alertmanager_port}",
        )
        prometheus = Service(
            "prometheus",
            [
                prometheus_binary,
                f"--config.file={prom_config}",
                f"--storage.tsdb.path={tmp / 'prometheus' / 'data'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
                "--enable-feature=exemplar-storage",
            ],
            port=prometheus_port,
            log_path=tmp / "prometheus.log",
        )
        cleanup.callback(prometheus.stop)
        prometheus.wait_ready()

        stack = Stack(collector, prometheus, alertmanager, receiver)
        # A few scrapes and a few runs of the scheduled jobs before any test looks:
        # increase() over a series a couple of samples old extrapolates far.
        stack.wait(
            lambda: stack.query('count_over_time(up{job="jobwatch"}[1m]) >= 5 and up == 1'),
            what="Prometheus to scrape the collector 5 times",
        )
        ran = 'sum by (job) (jobwatch_job_runs_total{job=~"contacts|events", status="success"})'
        stack.wait(
            lambda: len(stack.query(f"{ran} >= 3")) == 2,
            what="three successful runs of contacts and events in Prometheus",
        )
        yield stack


# ----------------------------------------------------------------- the tests


def _job_failed_annotations(times: int) -> dict[str, str]:
    return {
        "summary": "A jobwatch job run did not succeed.",
        "description": f"Job {FAILING} ended failed {times} time(s) in the last 15 minutes.",
        "runbook_url": f"{RUNBOOKS}#jobwatchjobfailed",
    }


def test_a_failed_run_reaches_the_receivers_and_the_activity_log(stack: Stack) -> None:
    stack.run_failing_job()
    labels = {
        "alertname": "JobwatchJobFailed",
        "job": FAILING,
        "status": "failed",
        "source": "billing",
        "kind": "command",
        "severity": "warning",
        "monitor": "jobwatch",  # Prometheus' external label
    }
    alert = stack.wait(
        lambda: stack.webhook_alert("oncall-warning", "JobwatchJobFailed"),
        what="JobwatchJobFailed at the oncall-warning receiver",
    )
    assert alert["labels"] == labels
    assert alert["annotations"] == _job_failed_annotations(1)

    # Slack and Discord (its Slack-compatible URL) get the rendered notification.
    title = f"[FIRING:1] JobwatchJobFailed {FAILING}"
    for path in ("/slack", "/discord/slack"):
        message = stack.wait(
            lambda path=path: _slack_message(stack.receiver.posts(path), title),
            what=f"the Slack message at {path}",
        )
        lines = message["text"].splitlines()
        assert lines[:4] == [
            "FIRING [warning] A jobwatch job run did not succeed.",
            _job_failed_annotations(1)["description"],
            f"Job: {FAILING} (command, source billing)",
            "Run status: failed",
        ]
        assert f"Runbook: {RUNBOOKS}#jobwatchjobfailed" in lines
        assert message["color"] == "warning"

    # jobwatch's own webhook, with the bearer token from credentials_file.
    entry = stack.wait(
        lambda: stack.activity_alert("JobwatchJobFailed"),
        what="JobwatchJobFailed in jobwatch's activity log",
    )
    assert entry["type"] == "alert"
    assert entry["status"] == "warning"
    assert entry["job"] == FAILING
    assert entry["message"] == "[FIRING] JobwatchJobFailed: A jobwatch job run did not succeed."
    assert entry["details"]["labels"] == labels
    assert entry["details"]["annotations"] == _job_failed_annotations(1)
    assert entry["details"]["receiver"] == "jobwatch-webhook"
    stack.assert_running()


def test_repeated_failures_page_as_critical(stack: Stack) -> None:
    for _ in range(4):
        stack.run_failing_job()
    labels = {
        "alertname": "JobwatchJobFailingRepeatedly",
        "job": FAILING,
        "source": "billing",
        "kind": "command",
        "severity": "critical",
        "monitor": "jobwatch",
    }
    annotations = {
        "summary": "A jobwatch job fails most of its runs.",
        "description": (
            f"100% of the runs of job {FAILING} in the last 6 hours failed, timed out"
            " or were abandoned."
        ),
        "runbook_url": f"{RUNBOOKS}#jobwatchjobfailingrepeatedly",
    }
    alert = stack.wait(
        lambda: stack.webhook_alert("oncall-critical", "JobwatchJobFailingRepeatedly"),
        what="JobwatchJobFailingRepeatedly at the oncall-critical receiver",
    )
    assert alert["labels"] == labels
    assert alert["annotations"] == annotations

    # Criticals also go to Telegram (plain text), while e-mail fails (refused).
    (telegram, *_) = stack.wait(
        lambda: stack.receiver.posts(f"/telegram/bot{TELEGRAM_TOKEN}/sendMessage"),
        what="the Telegram message",
    )
    assert telegram.body["chat_id"] == "-1001234567890"
    assert telegram.body["text"].splitlines()[:5] == [
        f"[FIRING:1] JobwatchJobFailingRepeatedly {FAILING}",
        "",
        "FIRING [critical] A jobwatch job fails most of its runs.",
        annotations["description"],
        f"Job: {FAILING} (command, source billing)",
    ]

    entry = stack.wait(
        lambda: stack.activity_alert("JobwatchJobFailingRepeatedly"),
        what="JobwatchJobFailingRepeatedly in jobwatch's activity log",
    )
    assert entry["status"] == "error"  # critical
    assert entry["job"] == FAILING
    assert entry["details"]["labels"] == labels
    assert entry["details"]["annotations"] == annotations
    stack.assert_running()


def test_the_healthy_parts_raise_no_alert(stack: Stack) -> None:
    """Succeeding jobs, a connected WARP and answering probes: only the failing job alerts."""
    firing = {r["metric"]["alertname"] for r in stack.query("ALERTS")}
    assert firing <= EXPECTED_ALERTS, stack.query("ALERTS")
    sent = {
        alert["labels"]["alertname"]
        for post in stack.receiver.posts("/webhook/")
        for alert in post.body["alerts"]
    }
    assert sent <= EXPECTED_ALERTS
    stack.assert_running()


def test_every_dashboard_query_runs_and_most_return_data(stack: Stack) -> None:
    generator = load_dashboard_generator()
    expressions = list(dict.fromkeys(generator.promql_expressions(DASHBOARD_VARIABLES)))
    assert len(expressions) >= 20
    results = {promql: stack.query(promql) for promql in expressions}
    empty = [promql for promql, result in results.items() if not result]
    only_nan = [
        promql
        for promql, result in results.items()
        if result and all(sample["value"][1] == "NaN" for sample in result)
    ]
    print(f"\n{len(expressions) - len(empty)}/{len(expressions)} dashboard queries return data")
    for promql in empty:
        print(f"  no data: {promql}")
    for promql in only_nan:
        print(f"  only NaN: {promql}")
    fraction = 1 - len(empty) / len(expressions)
    assert fraction >= MIN_FRACTION_WITH_DATA, f"only {fraction:.0%} return data; empty: {empty}"
    stack.assert_running()
