"""Human durations (``30s``, ``15m``, ``2h``) and schedules (cron or ``every 30s``).

Config files are written by people, so both accept the short forms people type and
reject anything ambiguous with a message that says what was expected.
"""

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_EVERY = re.compile(r"every\s+(.+)", re.IGNORECASE)
# Ten years: anything longer is a typo, and far longer overflows the scheduler's dates.
MAX_DURATION = 3650 * 86400.0


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``"90"``, ``"30s"``, ``"1h30m"``; raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 15m or 2h")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("expected a finite duration such as 30s, 15m or 2h")
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _bounded(value, float(value))
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 30s, 15m or 2h")
    text = value.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _bounded(value, float(text))
    position, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != position and text[position : match.start()].strip():
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position == 0 or text[position:].strip():
        raise ValueError(f"{value!r} is not a duration such as 30s, 15m, 2h or 1h30m")
    return _bounded(value, total)


def _bounded(value: object, seconds: float) -> float:
    if seconds > MAX_DURATION:
        raise ValueError(f"{value!r} is too long (at most {format_duration(MAX_DURATION)})")
    return seconds


def format_duration(seconds: float) -> str:
    """Shortest exact human form, for messages and the CLI."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class Schedule:
    """A validated schedule; ``interval_seconds`` is set for ``every …`` schedules."""

    text: str
    interval_seconds: float | None = None

    @classmethod
    def parse(cls, value: object) -> "Schedule":
        if not isinstance(value, str) or not value.strip():
            raise ValueError('expected a cron expression such as "*/15 * * * *" or "every 30s"')
        text = " ".join(value.split())
        every = _EVERY.fullmatch(text)
        if every:
            seconds = parse_duration(every.group(1))
            if seconds < 1:
                raise ValueError("an interval schedule must be at least 1s")
            return cls(text=text, interval_seconds=seconds)
        if len(text.split(" ")) != 5:
            raise ValueError(
                f'{text!r} is neither a 5-field cron expression ("*/15 * * * *") nor "every 30s"'
            )
        try:
            trigger = CronTrigger.from_crontab(text, timezone=UTC)
        except ValueError as exc:
            raise ValueError(f"invalid cron expression {text!r}: {exc}") from None
        if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
            raise ValueError(f"{text!r} never fires (no date matches it)")
        return cls(text=text)

    def trigger(self, start: datetime | None = None) -> BaseTrigger:
        if self.interval_seconds is not None:
            return IntervalTrigger(
                seconds=self.interval_seconds, start_date=start or datetime.now(UTC), timezone=UTC
            )
        return CronTrigger.from_crontab(self.text, timezone=UTC)

    def typical_interval(self) -> float:
        """Seconds between two fire times, used to derive a staleness bound."""
        if self.interval_seconds is not None:
            return self.interval_seconds
        trigger = self.trigger()
        now = datetime.now(UTC)
        first = trigger.get_next_fire_time(None, now)
        if first is None:
            return 86400.0
        second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
        if second is None:
            return 86400.0
        return max((second - first).total_seconds(), 1.0)

    def __str__(self) -> str:
        return self.text
