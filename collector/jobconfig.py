"""What every job kind's config shares; each kind subclasses it with its own fields."""

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from collector.durations import Schedule, format_duration, parse_duration
from collector.params import ParamSpec

Duration = Annotated[
    float, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
# Zero would mean "at once" (every run timed out, a task looping), never "no limit".
PositiveDuration = Annotated[Duration, Field(gt=0)]
ScheduleField = Annotated[
    Schedule,
    BeforeValidator(lambda value: value if isinstance(value, Schedule) else Schedule.parse(value)),
    PlainSerializer(str, return_type=str),
]
LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
Overlap = Literal["skip", "queue", "allow"]


def _label(value: Any) -> Any:
    if isinstance(value, str) and not LABEL_VALUE.match(value):
        raise ValueError("use 1-64 letters, digits, '_', '.', ':' or '-' (it becomes a label)")
    return value


class JobConfigBase(BaseModel):
    """Fields of every job. ``name`` and ``source`` become metric labels, so both are bounded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]+$", max_length=64)
    kind: str
    description: str | None = None
    schedule: ScheduleField | None = None
    timeout: PositiveDuration | None = None
    stale_after: PositiveDuration | None = None
    source: Annotated[str | None, BeforeValidator(_label)] = None
    overlap: Overlap = "skip"
    cancel_grace: Duration = 10.0
    params: dict[str, ParamSpec] = Field(default_factory=dict)

    def effective_stale_after(self) -> float | None:
        """``stale_after``, else about two schedule intervals, so one alert fits every job."""
        if self.stale_after is not None:
            return self.stale_after
        if self.schedule is not None:
            return 2 * self.schedule.typical_interval() + 60
        return None

    def runs_here(self) -> bool:
        """False for jobs that only report in from elsewhere (they have nothing to execute)."""
        return True
