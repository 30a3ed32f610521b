"""Paths and small helpers shared by the stack tests."""

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "prometheus"
ALERT_RULES = PROMETHEUS_DIR / "rules" / "jobwatch.alerts.yml"
RECORDING_RULES = PROMETHEUS_DIR / "rules" / "jobwatch.rules.yml"
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
ALERTMANAGER_CONFIG = PROMETHEUS_DIR / "alertmanager.yml"
ALERTMANAGER_LOCAL_CONFIG = PROMETHEUS_DIR / "alertmanager.local.yml"
RUNBOOKS = REPO / "docs" / "runbooks.md"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def run(*args: str | Path, cwd: Path = REPO, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a command; the result keeps stdout and stderr as text."""
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def alert_rules() -> list[dict]:
    return [
        rule
        for group in load_yaml(ALERT_RULES)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def recording_rules() -> list[dict]:
    return [
        rule
        for group in load_yaml(RECORDING_RULES)["groups"]
        for rule in group["rules"]
        if "record" in rule
    ]


def load_dashboard_generator() -> ModuleType:
    """grafana/generate_dashboards.py as a module (grafana/ is not a package)."""
    path = REPO / "grafana" / "generate_dashboards.py"
    spec = importlib.util.spec_from_file_location("generate_dashboards", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
