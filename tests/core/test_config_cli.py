"""A bad config: every problem as ``file:line: field: problem``, exit 2, never a traceback.

The file below has one mistake of each kind; the expected line numbers are those of
the offending keys as a person sees them in an editor.
"""

from pathlib import Path

import pytest

from collector.config import ConfigError, load_settings
from tests.core.helpers import REPO_ON_PATH, jobwatch

BAD_CONFIG = """\
listen: 127.0.0.1:9999
colour: blue
jobs:
  - name: contacts
    kind: command
    command: ["true"]
    timeout: 5 minutes
  - name: nightly
    kind: command
    command: ["true"]
    schedule: "61 * * * *"
  - name: contacts
    kind: command
    command: ["true"]
    params:
      batch_size: {type: integer, flag: --batch-size}
  - name: playlist
    kind: python
    target: tests.fixtures.core_jobs:counting
    retries: 3
"""

EXPECTED = [
    "environment JOBWATCH_RETENTION_DAYS: retention_days: Input should be less than or equal to 30",
    "{path}:2: colour: unknown setting",
    "{path}:7: jobs[0](contacts).timeout: '5 minutes' is not a duration such as 30s, 15m",
    "{path}:11: jobs[1](nightly).schedule: invalid cron expression '61 * * * *'",
    "{path}:16: jobs[2](contacts).params.batch_size.type: Input should be 'str', 'int',",
    "{path}:20: jobs[3](playlist).retries: unknown setting",
    "{path}:12: jobs[2](contacts).name: duplicate job name 'contacts' (first at jobs[0])",
]


def _line_number(expected: str) -> int:
    """Where a problem sits in the file; environment problems (no line) come first."""
    location = expected.split(": ", 1)[0]
    return int(location.rsplit(":", 1)[1]) if location.startswith("{path}") else 0


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "jobwatch.yaml"
    path.write_text(BAD_CONFIG)
    return path


def test_check_config_reports_every_mistake_with_file_and_line(
    bad_config: Path, tmp_path: Path
) -> None:
    result = jobwatch(
        "check-config",
        "--config",
        str(bad_config),
        cwd=tmp_path,
        env={"JOBWATCH_RETENTION_DAYS": "99", **REPO_ON_PATH},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == len(EXPECTED), result.stderr
    for line, expected in zip(lines, sorted(EXPECTED, key=_line_number), strict=True):
        assert line.startswith(expected.format(path=bad_config)), result.stderr
    assert "Traceback" not in result.stderr


def test_run_with_the_same_file_exits_2_before_starting(bad_config: Path, tmp_path: Path) -> None:
    result = jobwatch(
        "run",
        "--config",
        str(bad_config),
        cwd=tmp_path,
        env={"JOBWATCH_RETENTION_DAYS": "99", **REPO_ON_PATH},
    )
    assert result.returncode == 2
    assert f"{bad_config}:7: jobs[0](contacts).timeout:" in result.stderr
    assert "environment JOBWATCH_RETENTION_DAYS: retention_days:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "jobwatch.db").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jobs: []\nlisten: a: b\n", "{path}:2: yaml: mapping values are not allowed here"),
        ("listen: 127.0.0.1:9108\n", "{path}:1: jobs: required"),
        ("- just\n- a list\n", "{path}:1: file: must be a mapping of settings"),
        (
            "jobs:\n  - name: Bad-Name\n    kind: command\n    command: []\n",
            "{path}:2: jobs[0](Bad-Name).name: String should match pattern",
        ),
        (
            "jobs:\n  - name: ok\n    kind: command\n    command: []\n",
            "{path}:4: jobs[0](ok).command: List should have at least 1 item",
        ),
        ("jobs:\n  - name: ok\n    kind: shell\n", "{path}:2: jobs[0](ok)"),
        (
            "jobs:\n  - name: jobwatch\n    kind: command\n    command: [x]\n",
            "{path}:2: jobs[0](jobwatch).name: 'jobwatch' is reserved",
        ),
    ],
)
def test_other_mistakes_point_at_their_line(tmp_path: Path, text: str, expected: str) -> None:
    """In-process (the CLI prints exactly these strings, as the tests above show)."""
    path = tmp_path / "jobwatch.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert str(raised.value.problems[0]).startswith(expected.format(path=path)), raised.value


def test_a_good_config_passes(tmp_path: Path) -> None:
    path = tmp_path / "jobwatch.yaml"
    path.write_text(
        "jobs:\n  - name: ok\n    kind: command\n    command: ['true']\n    schedule: every 30s\n"
    )
    result = jobwatch("check-config", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{path}: OK: 1 job(s), 1 scheduled"
