"""``python`` jobs: ``module:function`` called with a RunContext and the run's params."""

import importlib
import traceback
from collections.abc import Callable
from typing import Any, Literal

from pydantic import field_validator

from collector.context import RunContext
from collector.jobconfig import JobConfigBase
from collector.kinds.base import Kind, Outcome, outcome_from_counts


def resolve_target(target: str) -> Callable[..., Any]:
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{target!r} must look like package.module:function")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ValueError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    function: Any = module
    for part in attribute.split("."):
        function = getattr(function, part, None)
        if function is None:
            raise ValueError(f"{module_name!r} has no attribute {attribute!r}")
    if not callable(function):
        raise ValueError(f"{target!r} is not callable")
    return function


class PythonJob(JobConfigBase):
    kind: Literal["python"]
    target: str

    @field_validator("target")
    @classmethod
    def _importable(cls, value: str) -> str:
        resolve_target(value)
        return value


def execute(ctx: RunContext, job: PythonJob) -> Outcome:  # type: ignore[override]
    function = resolve_target(job.target)
    try:
        returned = function(ctx, **ctx.params)
    except Exception as exc:
        for line in traceback.format_exc().splitlines():
            ctx.output(line)
        return Outcome("failed", f"{type(exc).__name__}: {exc}")
    if isinstance(returned, dict):
        ctx.set_result(**returned)
    return outcome_from_counts(ctx)


KIND = Kind("python", PythonJob, execute)  # type: ignore[arg-type]
