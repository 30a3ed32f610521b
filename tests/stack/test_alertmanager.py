"""The Alertmanager configuration and templates, checked by the real amtool and a real
Alertmanager (Debian's 0.25, the version docker-compose.yml pins).
"""

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.stack.helpers import (
    ALERTMANAGER_CONFIG,
    ALERTMANAGER_LOCAL_CONFIG,
    PROMETHEUS_DIR,
    REPO,
    load_yaml,
    output,
    run,
)
from tests.support.binaries import require_binary
from tests.support.process import free_port, wait_for

pytestmark = pytest.mark.stack

ENTRYPOINT = PROMETHEUS_DIR / "alertmanager-entrypoint.sh"
TEMPLATES = PROMETHEUS_DIR / "templates"
WEBHOOK_URL = "http://jobwatch:9108/api/v1/alerts/webhook"
SECRETS_DIR = "/etc/alertmanager/secrets/"


@pytest.fixture(scope="module")
def amtool() -> str:
    return require_binary("amtool")


@pytest.mark.parametrize("config", [ALERTMANAGER_CONFIG, ALERTMANAGER_LOCAL_CONFIG])
def test_amtool_check_config(amtool: str, config: Path) -> None:
    result = run(amtool, "check-config", config)
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout
    # The template glob is relative to the config and finds the shipped file.
    assert " - 1 templates" in result.stdout, output(result)
    assert " - 4 inhibit rules" in result.stdout, output(result)


def test_amtool_check_config_rejects_a_broken_route(amtool: str, tmp_path: Path) -> None:
    broken = tmp_path / "alertmanager.yml"
    broken.write_text(
        ALERTMANAGER_CONFIG.read_text().replace("receiver: team-crm\n", "receiver: nobody\n", 1)
    )
    (tmp_path / "templates").symlink_to(TEMPLATES)
    result = run(amtool, "check-config", broken)
    assert result.returncode != 0, output(result)
    assert 'undefined receiver "nobody"' in result.stdout + result.stderr, output(result)


def test_local_config_differs_only_in_the_webhook_address() -> None:
    shipped = ALERTMANAGER_CONFIG.read_text().replace(
        WEBHOOK_URL, "http://127.0.0.1:9108/api/v1/alerts/webhook"
    )
    assert yaml.safe_load(shipped) == load_yaml(ALERTMANAGER_LOCAL_CONFIG)


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (
            {
                "alertname": "JobwatchJobFailed",
                "severity": "warning",
                "job": "events",
                "source": "eventsite",
            },
            "jobwatch-webhook,oncall-warning",
        ),
        (
            {
                "alertname": "JobwatchCollectorDown",
                "severity": "critical",
                "instance": "jobwatch:9108",
            },
            "jobwatch-webhook,oncall-critical",
        ),
        (
            {
                "alertname": "JobwatchJobStale",
                "severity": "warning",
                "job": "crm_contacts",
                "source": "hubspot",
            },
            "jobwatch-webhook,team-crm",
        ),
        (
            {"alertname": "JobwatchJobFailingRepeatedly", "severity": "critical", "source": "crm"},
            "jobwatch-webhook,team-crm-critical",
        ),
        (
            {"alertname": "JobwatchJobDurationRegression", "severity": "info", "job": "events"},
            "jobwatch-webhook,blackhole",
        ),
        # No severity: still reaches people.
        ({"alertname": "SomethingElse"}, "jobwatch-webhook,oncall-warning"),
    ],
)
def test_routes_by_severity_and_source(amtool: str, labels: dict, receivers: str) -> None:
    pairs = [f"{key}={value}" for key, value in labels.items()]
    result = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *pairs)
    assert result.returncode == 0, output(result)
    assert result.stdout.strip() == receivers


def _routes(route: dict) -> Iterator[dict]:
    yield route
    for child in route.get("routes", []):
        yield from _routes(child)


def test_every_alert_goes_to_the_jobwatch_webhook_first() -> None:
    config = load_yaml(ALERTMANAGER_CONFIG)
    first = config["route"]["routes"][0]
    assert first["receiver"] == "jobwatch-webhook"
    assert first["continue"] is True
    assert "matchers" not in first and "match" not in first
    (receiver,) = [r for r in config["receivers"] if r["name"] == "jobwatch-webhook"]
    (webhook,) = receiver["webhook_configs"]
    assert webhook["url"] == WEBHOOK_URL
    assert webhook["send_resolved"] is True
    assert webhook["http_config"]["authorization"] == {
        "type": "Bearer",
        "credentials_file": SECRETS_DIR + "jobwatch_api_token",
    }


def test_quiet_hours_mute_warnings_and_never_criticals() -> None:
    config = load_yaml(ALERTMANAGER_CONFIG)
    assert [interval["name"] for interval in config["time_intervals"]] == ["night"]
    warning_routes = critical_routes = 0
    for route in _routes(config["route"]):
        matchers = [m.replace(" ", "") for m in route.get("matchers", [])]
        if 'severity="critical"' in matchers:
            critical_routes += 1
            assert "mute_time_intervals" not in route and "active_time_intervals" not in route
        elif 'severity="warning"' in matchers:
            warning_routes += 1
            assert route.get("mute_time_intervals") == ["night"]
    assert warning_routes == 2 and critical_routes == 2


def _walk(node: object, path: str = "") -> Iterator[tuple[str, object]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def test_secrets_come_from_files_that_compose_provides() -> None:
    config = load_yaml(ALERTMANAGER_CONFIG)
    inline_secret_keys = {
        "api_url",
        "webhook_url",
        "auth_password",
        "smtp_auth_password",
        "slack_api_url",
        "credentials",
        "password",
        "api_key",
        "routing_key",
    }
    files = set()
    for path, value in _walk(config):
        key = path.rsplit(".", 1)[-1]
        assert key not in inline_secret_keys, f"inline secret at {path}"
        if key.endswith("_file"):
            assert str(value).startswith(SECRETS_DIR), path
            files.add(value)
        if key == "bot_token":
            assert value == "${TELEGRAM_BOT_TOKEN}", "the Telegram token must stay a placeholder"
    compose = load_yaml(REPO / "docker-compose.yml")
    mounted = {s["target"] for s in compose["services"]["alertmanager"]["secrets"]}
    assert files == mounted
    assert set(compose["secrets"]) == {Path(f).name for f in files}


def test_every_referenced_template_is_defined(amtool: str) -> None:
    text = ALERTMANAGER_CONFIG.read_text()
    used = set(re.findall(r'template "([\w.]+)"', text))
    assert {"jobwatch.title", "jobwatch.text", "jobwatch.telegram", "jobwatch.email.html"} <= used
    data = _template_data("firing")
    for name in used:
        rendered = _render(amtool, name, data)
        assert rendered.strip(), name


def _alert(status: str, labels: dict, description: str) -> dict:
    return {
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": "A jobwatch job run did not succeed.",
            "description": description,
            "runbook_url": "https://github.com/jobwatch/jobwatch/blob/main/docs/runbooks.md#jobwatchjobfailed",
        },
        "startsAt": "2026-11-21T05:00:00Z",
        "endsAt": "2026-11-21T05:20:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "f" + status,
    }


def _template_data(status: str) -> dict:
    labels = {
        "alertname": "JobwatchJobFailed",
        "job": "crm_contacts",
        "status": "timed_out",
        "source": "hubspot",
        "kind": "command",
        "severity": "warning",
    }
    return {
        "receiver": "oncall-warning",
        "status": status,
        "alerts": [
            _alert(
                status, labels, "Job crm_contacts ended timed_out 1 time(s) in the last 15 minutes."
            )
        ],
        "groupLabels": {
            "alertname": "JobwatchJobFailed",
            "job": "crm_contacts",
            "source": "hubspot",
        },
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
    }


def _render(amtool: str, template: str, data: dict) -> str:
    """Render one of the shipped templates with ``amtool template render``."""
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp) / "data.json"
        data_file.write_text(json.dumps(data))
        result = run(
            amtool,
            "template",
            "render",
            f"--template.glob={TEMPLATES}/*.tmpl",
            f"--template.data={data_file}",
            f'--template.text={{{{ template "{template}" . }}}}',
        )
    assert result.returncode == 0, output(result)
    return result.stdout


def test_notification_text_is_human_readable(amtool: str) -> None:
    text = _render(amtool, "jobwatch.text", _template_data("firing"))
    assert text.splitlines() == [
        "FIRING [warning] A jobwatch job run did not succeed.",
        "Job crm_contacts ended timed_out 1 time(s) in the last 15 minutes.",
        "Job: crm_contacts (command, source hubspot)",
        "Run status: timed_out",
        "Since: 2026-11-21 05:00 UTC",
        "Dashboard: http://localhost:3000/d/jobwatch-job/jobwatch-job?var-job=crm_contacts",
        "Runs: GET /api/v1/runs?job=crm_contacts&status=timed_out",
        "Runbook: https://github.com/jobwatch/jobwatch/blob/main/docs/runbooks.md#jobwatchjobfailed",
    ]
    assert _render(amtool, "jobwatch.title", _template_data("firing")) == (
        "[FIRING:1] JobwatchJobFailed crm_contacts"
    )


def test_resolved_notification_says_so(amtool: str) -> None:
    text = _render(amtool, "jobwatch.text", _template_data("resolved"))
    assert text.startswith("RESOLVED [warning]")
    assert "Since: 2026-11-21 05:00 UTC, resolved 2026-11-21 05:20 UTC" in text
    assert _render(amtool, "jobwatch.title", _template_data("resolved")) == (
        "[RESOLVED] JobwatchJobFailed crm_contacts"
    )


def test_collector_alert_links_to_the_overview(amtool: str) -> None:
    data = _template_data("firing")
    labels = {
        "alertname": "JobwatchCollectorDown",
        "instance": "jobwatch:9108",
        "severity": "critical",
    }
    data["alerts"] = [_alert("firing", labels, "Prometheus has failed to scrape the collector.")]
    data["commonLabels"] = labels
    text = _render(amtool, "jobwatch.text", data)
    assert "Dashboard: http://localhost:3000/d/jobwatch-overview/jobwatch-overview\n" in text
    assert "Job:" not in text and "Runs:" not in text
    assert _render(amtool, "jobwatch.color", data) == "danger"


# ---------------------------------------------------------------- real Alertmanager


def test_entrypoint_refuses_a_token_that_could_break_the_config(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AM_CONFIG": str(ALERTMANAGER_CONFIG),
        "AM_RENDER_DIR": str(tmp_path / "render"),
        "AM_BINARY": "true",
        "TELEGRAM_BOT_TOKEN": "123|evil",
    }
    result = subprocess.run(
        ["sh", str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=10
    )
    assert result.returncode == 2, output(result)
    assert "TELEGRAM_BOT_TOKEN" in result.stderr
    assert not (tmp_path / "render" / "alertmanager.yml").exists()


class Alertmanager:
    """prometheus-alertmanager started through the shipped entrypoint, on loopback."""

    def __init__(self, tmp_path: Path, binary: str) -> None:
        self.port = free_port()
        self.render_dir = tmp_path / "render"
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "AM_CONFIG": str(ALERTMANAGER_CONFIG),
            "AM_RENDER_DIR": str(self.render_dir),
            "AM_BINARY": binary,
            "TELEGRAM_BOT_TOKEN": "123456:test-token",
        }
        self.log = (tmp_path / "alertmanager.log").open("wb")
        self.process = subprocess.Popen(
            [
                "sh",
                str(ENTRYPOINT),
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--storage.path={tmp_path / 'data'}",
                "--cluster.listen-address=",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.Client(base_url=self.url, timeout=5)
        wait_for(self._ready, timeout=20, what=f"alertmanager ready on {self.url}")

    def _ready(self) -> bool:
        assert self.process.poll() is None, f"alertmanager exited with {self.process.returncode}"
        return self.http.get("/-/ready").status_code == 200

    def post(self, *alerts: dict) -> None:
        payload = [{"labels": a, "annotations": {"summary": a["alertname"]}} for a in alerts]
        self.http.post("/api/v2/alerts", json=payload).raise_for_status()

    def inhibited(self) -> dict[str, bool]:
        """Alert identity -> inhibited, for every alert Alertmanager holds."""
        alerts = self.http.get("/api/v2/alerts").json()
        return {_identity(a["labels"]): bool(a["status"]["inhibitedBy"]) for a in alerts}

    def stop(self) -> None:
        self.http.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _identity(labels: dict) -> str:
    keys = ("alertname", "job", "source", "probe")
    return " ".join(f"{k}={labels[k]}" for k in keys if k in labels)


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    binary = require_binary("prometheus-alertmanager", "alertmanager")
    manager = Alertmanager(tmp_path, binary)
    try:
        yield manager
    finally:
        manager.stop()


def test_entrypoint_renders_the_telegram_token(alertmanager: Alertmanager) -> None:
    rendered = (alertmanager.render_dir / "alertmanager.yml").read_text()
    assert "bot_token: 123456:test-token" in rendered
    assert "${TELEGRAM_BOT_TOKEN}" not in rendered
    assert (alertmanager.render_dir / "templates" / "jobwatch.tmpl").is_file()
    status = alertmanager.http.get("/api/v2/status").json()
    assert "123456:test-token" not in status["config"]["original"]  # secrets are masked


def test_inhibit_rules(alertmanager: Alertmanager) -> None:
    def job_alert(name: str, job: str, kind: str, source: str, severity: str = "warning") -> dict:
        return {"alertname": name, "job": job, "kind": kind, "source": source, "severity": severity}

    alertmanager.post(
        {"alertname": "JobwatchWarpDisconnected", "source": "eventsite", "severity": "critical"},
        {"alertname": "JobwatchStreamsUnavailable", "source": "streamsite", "severity": "critical"},
        job_alert("JobwatchJobFailed", "events", "scrape", "eventsite"),
        job_alert("JobwatchJobStale", "streams_list", "scrape", "streamsite"),
        job_alert("JobwatchJobFailed", "news", "scrape", "newsfeed"),
        job_alert("JobwatchJobStale", "crm_export", "command", "eventsite"),
        {"alertname": "JobwatchProbeDown", "probe": "warp", "severity": "warning"},
        {"alertname": "JobwatchProbeDown", "probe": "retention", "severity": "warning"},
        job_alert("JobwatchJobFailingRepeatedly", "crm_contacts", "command", "hubspot", "critical"),
        job_alert("JobwatchJobFailed", "crm_contacts", "command", "hubspot"),
    )
    expected = {
        "alertname=JobwatchWarpDisconnected source=eventsite": False,
        "alertname=JobwatchStreamsUnavailable source=streamsite": False,
        # Scrape jobs of the source WARP / the streams take down.
        "alertname=JobwatchJobFailed job=events source=eventsite": True,
        "alertname=JobwatchJobStale job=streams_list source=streamsite": True,
        # Another source, or not a scrape job: still notified.
        "alertname=JobwatchJobFailed job=news source=newsfeed": False,
        "alertname=JobwatchJobStale job=crm_export source=eventsite": False,
        "alertname=JobwatchProbeDown probe=warp": True,
        "alertname=JobwatchProbeDown probe=retention": False,
        "alertname=JobwatchJobFailingRepeatedly job=crm_contacts source=hubspot": False,
        "alertname=JobwatchJobFailed job=crm_contacts source=hubspot": True,
    }
    wait_for(lambda: alertmanager.inhibited() == expected, timeout=10, what="inhibitions")

    # The collector goes down: everything else is a consequence and is held back.
    alertmanager.post(
        {"alertname": "JobwatchCollectorDown", "instance": "jobwatch:9108", "severity": "critical"}
    )
    everything = {name: True for name in expected} | {"alertname=JobwatchCollectorDown": False}
    wait_for(
        lambda: alertmanager.inhibited() == everything, timeout=10, what="collector-down inhibition"
    )
