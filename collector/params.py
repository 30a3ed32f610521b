"""The params a trigger may pass to a job, declared in the config and checked before a run.

Validation happens before anything is recorded or started, so a bad trigger costs
nothing and the caller learns every wrong field at once.
"""

import datetime as dt
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ParamType = Literal["str", "int", "float", "bool", "date", "choice"]
_FLAG = re.compile(r"^-{1,2}[A-Za-z0-9][A-Za-z0-9_-]*$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ParamSpec(BaseModel):
    """One declared parameter; ``flag`` is how a command job receives it."""

    model_config = ConfigDict(extra="forbid")

    type: ParamType = "str"
    default: Any = None
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: list[str] | None = None
    flag: str | None = Field(default=None, description="command-line flag, e.g. --batch-size")
    secret: bool = Field(default=False, description="redacted in traces, logs and the API")
    description: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "ParamSpec":
        if self.flag is not None and not _FLAG.match(self.flag):
            raise ValueError(f"flag {self.flag!r} must look like --name or -n")
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice param needs a non-empty 'choices' list")
        if self.default is not None:
            self.default = coerce(self, self.default)
        return self


class ParamsError(ValueError):
    """Every problem with a set of params, as (param name, problem) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in problems))


def coerce(spec: ParamSpec, value: Any) -> Any:
    """The typed value, accepting the strings a CLI ``--param k=v`` sends."""
    kind = spec.type
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError("expected true or false")
    if kind in ("int", "float"):
        if isinstance(value, bool):
            raise ValueError(f"expected {'an integer' if kind == 'int' else 'a number'}")
        try:
            number = int(value) if kind == "int" else float(value)
            if kind == "int" and isinstance(value, float) and value != int(value):
                raise ValueError
        except OverflowError:
            raise ValueError("number out of range") from None
        except (TypeError, ValueError):
            raise ValueError(f"expected {'an integer' if kind == 'int' else 'a number'}") from None
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        if spec.min is not None and number < spec.min:
            raise ValueError(f"must be at least {spec.min:g}")
        if spec.max is not None and number > spec.max:
            raise ValueError(f"must be at most {spec.max:g}")
        return number
    if kind == "date":
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValueError("expected a date as YYYY-MM-DD") from None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError("expected a string")
    text = str(value)
    if "\x00" in text or not _encodable(text):
        raise ValueError("contains a NUL or an unpaired surrogate character")
    if kind == "choice" and spec.choices and text not in spec.choices:
        raise ValueError(f"must be one of {', '.join(spec.choices)}")
    return text


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_params(specs: dict[str, ParamSpec], given: dict[str, Any] | None) -> dict[str, Any]:
    """Typed params with defaults filled in, or ParamsError naming every bad one."""
    given = given or {}
    problems: list[tuple[str, str]] = []
    result: dict[str, Any] = {}
    for name in given:
        if name not in specs:
            known = ", ".join(sorted(specs)) or "none"
            problems.append((name, f"unknown param (this job accepts: {known})"))
    for name, spec in specs.items():
        if name in given and given[name] is not None:
            try:
                result[name] = coerce(spec, given[name])
            except ValueError as exc:
                problems.append((name, str(exc)))
        elif spec.default is not None:
            result[name] = spec.default
        elif spec.required:
            problems.append((name, "required"))
    if problems:
        raise ParamsError(problems)
    return result


def redact(specs: dict[str, ParamSpec], params: dict[str, Any]) -> dict[str, Any]:
    """Params safe to show: secret values replaced, so traces and logs never carry them."""
    return {
        name: ("***" if name in specs and specs[name].secret else value)
        for name, value in params.items()
    }


def to_flags(specs: dict[str, ParamSpec], params: dict[str, Any]) -> list[str]:
    """argv fragments for a command job: ``--full`` for a true bool, ``--flag value`` else."""
    argv: list[str] = []
    for name, value in params.items():
        spec = specs.get(name)
        if spec is None or spec.flag is None or value is None:
            continue
        if spec.type == "bool":
            if value:
                argv.append(spec.flag)
            continue
        argv.extend([spec.flag, str(value)])
    return argv
