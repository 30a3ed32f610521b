"""The interface every job kind implements: a config model and an ``execute`` function."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from collector.context import RunContext
from collector.jobconfig import JobConfigBase

OutcomeStatus = Literal["success", "partial", "failed"]


@dataclass(frozen=True)
class Outcome:
    """How a kind judged its own run; cancel and timeout override it in the executor."""

    status: OutcomeStatus
    error: str | None = None


def outcome_from_counts(ctx: RunContext) -> Outcome:
    """Success, or ``partial`` when some records failed."""
    failed = ctx.counts()["failed"]
    if failed:
        return Outcome("partial", f"{failed} record(s) failed")
    return Outcome("success")


Execute = Callable[[RunContext, JobConfigBase], Outcome]


@dataclass(frozen=True)
class Kind:
    """A registry entry. ``execute`` is None for jobs that run elsewhere and report in."""

    name: str
    config_model: type[JobConfigBase]
    execute: Execute | None
