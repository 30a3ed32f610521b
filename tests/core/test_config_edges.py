"""Odd config inputs: each one is a ``file:line: field: problem`` line, never a traceback,
and never a config that loads but breaks (or silently misbehaves) once running."""

import os
from pathlib import Path

import pytest

from collector.config import ConfigError, load_settings
from collector.durations import Schedule, parse_duration

JOB = "jobs:\n  - name: a\n    kind: command\n    command: [x]\n"


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "jobwatch.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    return [str(problem).replace(str(path), "F") for problem in raised.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # YAML that the reader refuses (a control character) is a problem, not a traceback.
        ("jobs: []\nlisten: a\x07b\n", "F:2: yaml: unacceptable character #x0007"),
        # Infinite and NaN durations load, then never time out or overflow the scheduler.
        (JOB + "    timeout: .inf\n", "F:5: jobs[0](a).timeout: expected a finite duration"),
        (JOB + "    timeout: .nan\n", "F:5: jobs[0](a).timeout: expected a finite duration"),
        ("retention_interval: .inf\njobs: []\n", "F:1: retention_interval: expected a finite"),
        (JOB + "    schedule: every 100000000w\n", "F:5: jobs[0](a).schedule: '100000000w' is"),
        # Zero: every run times out at once, the task loops forever, the job is always stale.
        (JOB + "    timeout: 0\n", "F:5: jobs[0](a).timeout: Input should be greater than 0"),
        (JOB + "    stale_after: 0s\n", "F:5: jobs[0](a).stale_after: Input should be greater"),
        ("retention_interval: 0\njobs: []\n", "F:1: retention_interval: Input should be greater"),
        (
            "jobs:\n  - name: s\n    kind: scrape\n    urls: [http://h]\n    request_timeout: 0\n",
            "F:5: jobs[0](s).request_timeout: Input should be greater than 0",
        ),
        # A cron expression that matches no date would never run.
        (
            JOB + "    schedule: '0 0 30 2 *'\n",
            "F:5: jobs[0](a).schedule: '0 0 30 2 *' never fires",
        ),
        # A second key of the same name silently replaces the first (here: every job).
        (JOB + "jobs: []\n", "F:5: jobs: duplicate key (first at line 1)"),
        (JOB + "    timeout: 5m\n    timeout: 1h\n", "F:6: jobs[0](a).timeout: duplicate key"),
    ],
)
def test_odd_inputs_are_problems_with_a_line(tmp_path: Path, text: str, expected: str) -> None:
    problems = _problems(tmp_path, text)
    assert any(problem.startswith(expected) for problem in problems), problems


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("every 1.5m", 90.0), ("every 1s", 1.0), ("every 1h30m", 5400.0), ("every 2w", 1209600.0)],
)
def test_fractional_and_compound_intervals_are_fine(text: str, seconds: float) -> None:
    assert Schedule.parse(text).interval_seconds == seconds


def test_durations_still_accept_what_people_type() -> None:
    assert parse_duration("1h30m") == 5400.0
    assert parse_duration(" 90 ") == 90.0
    assert parse_duration(0) == 0.0
    assert parse_duration("250ms") == 0.25


def test_an_environment_value_is_blamed_for_its_own_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even when the file sets the same key (the environment wins, so its value is wrong)."""
    monkeypatch.setenv("JOBWATCH_MAX_CONCURRENT_RUNS", "0")
    monkeypatch.setenv("JOBWATCH_PROBES__WARP__INTERVAL", "often")
    text = (
        "max_concurrent_runs: 4\n"
        "probes:\n"
        "  streams: {acexy_url: 'http://h', interval: 10s}\n"
        "  warp: {command: [warp-cli, status], interval: 30s}\n"
        "jobs: []\n"
    )
    problems = _problems(tmp_path, text)
    assert problems == [
        "environment JOBWATCH_MAX_CONCURRENT_RUNS: max_concurrent_runs: "
        "Input should be greater than or equal to 1",
        "environment JOBWATCH_PROBES__WARP__INTERVAL: probes.warp.interval: "
        "'often' is not a duration such as 30s, 15m, 2h or 1h30m",
    ]
    assert "JOBWATCH_MAX_CONCURRENT_RUNS" in os.environ  # monkeypatch restores it after
