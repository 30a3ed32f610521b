"""The Prometheus configuration and rules, checked by the real promtool.

``promtool check config`` / ``check rules`` / ``test rules`` run as subprocesses on the
shipped files; the rest of the tests hold the rules to the monitoring-mixin style and
make sure every alert has a firing and a quiet unit test.
"""

import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.stack.helpers import (
    ALERT_RULES,
    PROMETHEUS_DIR,
    RECORDING_RULES,
    RULE_TESTS,
    RUNBOOKS,
    alert_rules,
    load_yaml,
    output,
    recording_rules,
    run,
)
from tests.support.binaries import require_binary

pytestmark = pytest.mark.stack

RUNBOOK_BASE = "https://github.com/jobwatch/jobwatch/blob/main/docs/runbooks.md#"
SEVERITIES = {"critical", "warning", "info"}


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_binary("promtool")


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.local.yml"])
def test_promtool_check_config(promtool: str, config: str) -> None:
    result = run(promtool, "check", "config", PROMETHEUS_DIR / config)
    assert result.returncode == 0, output(result)
    # The rule files are found through the config's glob, not silently skipped.
    assert "SUCCESS: 2 rule files found" in result.stdout, output(result)


def test_promtool_check_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", ALERT_RULES, RECORDING_RULES)
    assert result.returncode == 0, output(result)
    counts = [int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", result.stdout)]
    assert counts == [len(alert_rules()), len(recording_rules())], output(result)


def test_promtool_test_rules(promtool: str) -> None:
    assert RULE_TESTS, "no rule unit tests under prometheus/tests"
    result = run(promtool, "test", "rules", *RULE_TESTS, cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, output(result)
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS), output(result)


@pytest.mark.parametrize(
    ("pattern", "replacement", "test_file"),
    [
        # A threshold drifts: the failing-repeatedly alert stops firing.
        (
            "job:jobwatch_job_runs:failure_ratio6h > 0.5",
            "job:jobwatch_job_runs:failure_ratio6h > 1",
            "jobs.test.yml",
        ),
        # An annotation changes: the exact-annotation expectations catch it.
        ("has been failing for 10 minutes.", "has been failing.", "probes.test.yml"),
    ],
)
def test_rule_unit_tests_catch_a_broken_rule(
    promtool: str, tmp_path: Path, pattern: str, replacement: str, test_file: str
) -> None:
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS_DIR, copy)
    alerts = copy / "rules" / ALERT_RULES.name
    text = alerts.read_text()
    assert pattern in text
    alerts.write_text(text.replace(pattern, replacement))
    result = run(promtool, "test", "rules", copy / "tests" / test_file, cwd=copy)
    assert result.returncode != 0, output(result)
    assert "FAILED" in result.stdout + result.stderr


def test_alerts_follow_the_mixin_style() -> None:
    runbooks = RUNBOOKS.read_text(encoding="utf-8")
    anchors = {
        heading.strip().lower() for heading in re.findall(r"^## (.+)$", runbooks, re.MULTILINE)
    }
    rules = alert_rules()
    assert len({rule["alert"] for rule in rules}) == len(rules), "duplicate alert names"
    for rule in rules:
        name = rule["alert"]
        assert re.fullmatch(r"Jobwatch(?:[A-Z][a-z0-9]*)+", name), name
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{name}: no `for`"
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        assert "{{" in annotations["description"], f"{name}: description is not templated"
        assert annotations["runbook_url"] == RUNBOOK_BASE + name.lower(), name
        assert name.lower() in anchors, f"docs/runbooks.md has no '## {name}' section"


def test_required_alerts_exist_with_their_severity() -> None:
    severities = {rule["alert"]: rule["labels"]["severity"] for rule in alert_rules()}
    assert severities == {
        "JobwatchCollectorDown": "critical",
        "JobwatchCollectorAbsent": "critical",
        "JobwatchActivityWritesDropped": "warning",
        "JobwatchJobFailed": "warning",
        "JobwatchJobFailingRepeatedly": "critical",
        "JobwatchJobStale": "warning",
        "JobwatchJobNeverSucceeded": "warning",
        "JobwatchJobRunningTooLong": "warning",
        "JobwatchJobHighRecordFailureRatio": "warning",
        "JobwatchJobMissedSchedules": "warning",
        "JobwatchJobDurationRegression": "info",
        "JobwatchWarpDisconnected": "critical",
        "JobwatchStreamsUnavailable": "critical",
        "JobwatchProbeDown": "warning",
    }


def test_collector_alerts_use_the_scrape_job_and_drop_its_label() -> None:
    rules = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    for name in ("JobwatchCollectorDown", "JobwatchCollectorAbsent"):
        assert 'up{job="jobwatch"}' in rules[name]
    assert "without (job)" in rules["JobwatchCollectorDown"]
    assert 'label_replace(absent(up{job="jobwatch"}), "job", ""' in rules["JobwatchCollectorAbsent"]


def _rule_tests() -> list[dict]:
    return [test for path in RULE_TESTS for test in load_yaml(path)["tests"]]


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in _rule_tests():
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
            for alert in case.get("exp_alerts") or []:
                # Exact expectations: labels with the severity, and all three annotations.
                assert "severity" in alert["exp_labels"], case["alertname"]
                assert set(alert["exp_annotations"]) == {"summary", "description", "runbook_url"}
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts without a firing test"
    assert names - quiet == set(), "alerts without a not-firing test"


def test_every_recording_rule_is_tested_and_well_named() -> None:
    tested = {
        case["expr"].split("{")[0].strip()
        for test in _rule_tests()
        for case in test.get("promql_expr_test", [])
    }
    for rule in recording_rules():
        name = rule["record"]
        assert re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", name), name
        assert name in tested, f"recording rule {name} has no promql_expr_test"


def test_jobwatch_scrape_honors_labels() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    (scrape,) = [s for s in config["scrape_configs"] if s["job_name"] == "jobwatch"]
    assert scrape["honor_labels"] is True
    assert scrape["static_configs"] == [{"targets": ["jobwatch:9108"]}]
    assert config["rule_files"] == ["rules/*.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"] == [
        {"targets": ["alertmanager:9093"]}
    ]


def test_local_prometheus_config_differs_only_in_addresses() -> None:
    compose = (PROMETHEUS_DIR / "prometheus.yml").read_text()
    for host, local in [
        ("jobwatch:9108", "127.0.0.1:9108"),
        ("alertmanager:9093", "127.0.0.1:9093"),
        ("localhost:9090", "127.0.0.1:9090"),
    ]:
        compose = compose.replace(f'"{host}"', f'"{local}"')
    assert yaml.safe_load(compose) == load_yaml(PROMETHEUS_DIR / "prometheus.local.yml")
