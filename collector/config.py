"""Settings: the YAML file, then ``JOBWATCH_*`` environment on top, validated as one.

Every problem is reported as ``file:line: field: problem`` so a user fixes all of
them in one pass; nothing about a bad config ever reaches the user as a traceback.
"""

import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import BaseModel, Field, ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from collector.jobconfig import Duration, JobConfigBase, PositiveDuration
from collector.kinds import KINDS
from collector.probes import PROBES

DEFAULT_CONFIG = Path("jobwatch.yaml")
ENV_PREFIX = "JOBWATCH_"
RESERVED_JOB_NAMES = frozenset({"jobwatch"})
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

JobConfig = Annotated[
    Union[tuple(kind.config_model for kind in KINDS.values())],  # noqa: UP007
    Field(discriminator="kind"),
]
ProbesConfig: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "ProbesConfig",
    __config__={"extra": "forbid"},
    **{name: (probe.config_model | None, None) for name, probe in PROBES.items()},
)


class Settings(BaseSettings):
    """Everything configurable. Environment variables win over the file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid"
    )

    database_url: str = "sqlite:///jobwatch.db"
    listen: str = "127.0.0.1:9108"
    api_token: str | None = None
    retention_days: int = Field(default=7, ge=0, le=30)
    auto_refresh_interval: int = Field(default=30, ge=10, le=600)
    max_concurrent_runs: int = Field(default=4, ge=1, le=256)
    misfire_grace_time: Duration = 300.0
    shutdown_grace: Duration = 20.0
    retention_interval: PositiveDuration = 3600.0
    log_level: str = "INFO"
    jobs: list[JobConfig] = Field(default_factory=list)
    probes: ProbesConfig = Field(default_factory=ProbesConfig)  # type: ignore[valid-type]

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, port = split_listen(value)
        if not 0 < port < 65536:
            raise ValueError("port must be 1-65535")
        return f"{host}:{port}"

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)

    def job(self, name: str) -> JobConfigBase | None:
        return next((job for job in self.jobs if job.name == name), None)

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]


def split_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("expected HOST:PORT, for example 127.0.0.1:9108")
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass(frozen=True)
class Problem:
    source: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.field}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def _expand_env(value: Any) -> Any:
    """``${NAME}`` and ``${NAME:-default}`` in string values, so secrets stay out of the file."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            found = os.environ.get(match.group(1))
            return found if found is not None else (match.group(2) or "")

        expanded = _ENV_REFERENCE.sub(replace, value)
        return None if expanded == "" and value.strip().startswith("${") else expanded
    if isinstance(value, list):
        return [_expand_env(item) for item in value]
    if isinstance(value, dict):
        return {key: _expand_env(item) for key, item in value.items()}
    return value


def _line_index(
    node: yaml.Node,
    path: tuple[Any, ...],
    lines: dict[tuple[Any, ...], int],
    duplicates: list[tuple[tuple[Any, ...], int, int]],
) -> None:
    """Line of every key and list item, so an error points at what the user wrote.

    A key given twice in one mapping goes to ``duplicates`` as (path, line, first
    line): YAML keeps the last silently, which can drop a whole section.
    """
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        first_lines: dict[Any, int] = {}
        for key, value in node.value:
            child = (*path, key.value)
            line = key.start_mark.line + 1
            if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                if key.value in first_lines:
                    duplicates.append((child, line, first_lines[key.value]))
                first_lines.setdefault(key.value, line)
            lines[child] = line
            _line_index(value, child, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _line_index(item, (*path, position), lines, duplicates)


def _yaml_problem(source: str, text: str, exc: yaml.YAMLError) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        return Problem(source, line, "yaml", str(exc.problem))
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        return Problem(source, line, "yaml", str(exc).splitlines()[0])
    return Problem(source, None, "yaml", str(exc).splitlines()[0] if str(exc) else repr(exc))


def _read_yaml(path: Path) -> tuple[dict[str, Any], dict[tuple[Any, ...], int], list[Problem]]:
    """The data, the line of each path in it, and the keys given twice (as problems)."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(source, None, "file", "not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(source, None, "file", f"cannot be read: {exc}")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(source, text, exc)]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        line = node.start_mark.line + 1 if node else 1
        raise ConfigError([Problem(source, line, "file", "must be a mapping of settings")])
    lines: dict[tuple[Any, ...], int] = {}
    duplicates: list[tuple[tuple[Any, ...], int, int]] = []
    if node is not None:
        _line_index(node, (), lines, duplicates)
    return (
        data,
        lines,
        [
            Problem(source, line, _field_name(path, data), f"duplicate key (first at line {first})")
            for path, line, first in duplicates
        ],
    )


def _locate(loc: Iterable[Any], data: Any) -> tuple[Any, ...]:
    """Path of an error inside the data, skipping pydantic's union tags (``command``)."""
    path: list[Any] = []
    current = data
    tag_skipped_at: int | None = None
    for part in loc:
        if (
            isinstance(current, dict)
            and isinstance(part, str)
            and part in KINDS
            and current.get("kind") == part
            and path
            and isinstance(path[-1], int)
            and tag_skipped_at != len(path)
        ):
            # The union tag right after a job's index. The kind ``command`` is also a
            # field name, so the tag is skipped before the key lookup, or every error
            # of a command job would point at its ``command:`` line.
            tag_skipped_at = len(path)
            continue
        present = (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and part < len(current)
        )
        if present:
            current = current[part]
            path.append(part)
        elif isinstance(current, dict | list):
            if isinstance(part, str) and part in KINDS:
                continue
            path.append(part)
            current = None
        else:
            path.append(part)
            current = None
    return tuple(path)


def _field_name(path: tuple[Any, ...], data: dict[str, Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    if len(path) >= 2 and path[0] == "jobs" and isinstance(path[1], int):
        jobs = data.get("jobs")
        if isinstance(jobs, list) and path[1] < len(jobs) and isinstance(jobs[path[1]], dict):
            name = jobs[path[1]].get("name")
            if isinstance(name, str):
                text = text.replace(f"jobs[{path[1]}]", f"jobs[{path[1]}]({name})", 1)
    return text or "config"


def _semantic_problems(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Problems across fields, read from the raw data so they join the per-field ones."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    seen: dict[str, int] = {}
    jobs = data.get("jobs")
    for position, job in enumerate(jobs if isinstance(jobs, list) else []):
        name = job.get("name") if isinstance(job, dict) else None
        if not isinstance(name, str):
            continue
        if name in RESERVED_JOB_NAMES:
            problems.append(
                (
                    ("jobs", position, "name"),
                    f"{name!r} is reserved: Prometheus scrapes jobwatch as job={name!r}, "
                    "so a job of that name could not be told apart from the collector",
                )
            )
        if name in seen:
            problems.append(
                (
                    (("jobs", position, "name")),
                    f"duplicate job name {name!r} (first at jobs[{seen[name]}])",
                )
            )
        seen.setdefault(name, position)
    return problems


def extend_import_path(config_path: Path) -> None:
    """Let python jobs import modules that sit beside the config file or in the cwd."""
    for folder in (Path.cwd(), config_path.resolve().parent):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


def resolve_config_path(path: Path | str | None) -> Path:
    if path is not None:
        return Path(path)
    from_env = os.environ.get(f"{ENV_PREFIX}CONFIG")
    return Path(from_env) if from_env else DEFAULT_CONFIG


def load_settings(path: Path | str | None = None) -> Settings:
    """Read, merge and validate; raises ConfigError with every problem found."""
    config_path = resolve_config_path(path)
    data, lines, duplicates = _read_yaml(config_path)
    extend_import_path(config_path)
    data = _expand_env(data)
    if "jobs" not in data:
        raise ConfigError([Problem(str(config_path), 1, "jobs", "required (a list of jobs)")])
    # The path each JOBWATCH_* variable sets, longest first: the environment wins over
    # the file, so a problem under such a path is the variable's, whatever the file says.
    env_paths = sorted(
        (
            (tuple(part.lower() for part in name.removeprefix(ENV_PREFIX).split("__")), name)
            for name in os.environ
            if name.startswith(ENV_PREFIX)
        ),
        key=lambda item: -len(item[0]),
    )
    semantic = duplicates + [
        Problem(str(config_path), _nearest_line(path, lines), _field_name(path, data), message)
        for path, message in _semantic_problems(data)
    ]
    try:
        settings = Settings(**data)
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            loc = problem["loc"]
            message = problem["msg"].removeprefix("Value error, ")
            parts = tuple(str(part).lower() for part in loc)
            variable = next((name for path, name in env_paths if parts[: len(path)] == path), None)
            if variable is not None:
                field = ".".join(str(part) for part in loc)
                problems.append(Problem(f"environment {variable}", None, field, message))
                continue
            path_in_data = _locate(loc, data)
            line = _nearest_line(path_in_data, lines)
            if problem["type"] == "extra_forbidden":
                message = "unknown setting"
            problems.append(
                Problem(str(config_path), line, _field_name(path_in_data, data), message)
            )
        raise ConfigError(_in_reading_order(problems + semantic)) from None
    if semantic:
        raise ConfigError(_in_reading_order(semantic))
    return settings


def _in_reading_order(problems: list[Problem]) -> list[Problem]:
    """Environment problems first, then the file's from top to bottom, as one reads it."""
    return sorted(problems, key=lambda problem: (problem.line is not None, problem.line or 0))


def _nearest_line(path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for size in range(len(path), -1, -1):
        if path[:size] in lines:
            return lines[path[:size]]
    return None
