"""One job's metric values, kept as plain numbers so an event costs a few additions.

Rendering happens elsewhere (``exporters.families``), from a :meth:`JobState.snapshot`
taken under the exporter's lock, so a scrape never reads half an update.
"""

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from prometheus_client.samples import Exemplar

from exporters.labels import DURATION_BUCKETS, FINAL_STATUSES, RECORD_OUTCOMES


def _zeros(keys: tuple[str, ...]) -> dict[str, int]:
    return dict.fromkeys(keys, 0)


def timestamp(value: str | datetime | None) -> float | None:
    """Unix seconds from an ISO string (the run's API form) or an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.timestamp()


@dataclass
class JobState:
    runs: dict[str, int] = field(default_factory=lambda: _zeros(FINAL_STATUSES))
    records: dict[str, int] = field(default_factory=lambda: _zeros(RECORD_OUTCOMES))
    bucket_counts: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    exemplars: list[Exemplar | None] = field(default_factory=lambda: [None] * len(DURATION_BUCKETS))
    duration_sum: float = 0.0
    in_progress: int = 0
    queued: int = 0
    last_run: float | None = None
    last_success: float | None = None
    last_duration: float | None = None
    next_run: float | None = None
    missed: int = 0

    def snapshot(self) -> "JobState":
        """A copy whose containers are not shared with the live state."""
        return replace(
            self,
            runs=dict(self.runs),
            records=dict(self.records),
            bucket_counts=list(self.bucket_counts),
            exemplars=list(self.exemplars),
        )

    def finish(self, run: Mapping[str, Any]) -> None:
        """Account a run (API form) that reached a final status.

        A run cancelled while still queued never ran, so it leaves the last-run gauges
        and the histogram alone. A dry run is a rehearsal: it shows in the last-run
        gauges and durations, but it neither counts as a run outcome nor wrote any
        records, and it never counts as a success.
        """
        finished = timestamp(run["finished_at"])
        duration = run.get("duration_seconds")
        if run.get("started_at") is not None and finished is not None:
            self.note_last_run(finished, duration)
            if duration is not None:
                self._observe(float(duration), run.get("trace_id"), finished)
        if run.get("dry_run"):
            return
        self.runs[run["status"]] += 1
        for outcome in RECORD_OUTCOMES:
            self.records[outcome] += int(run.get(f"records_{outcome}") or 0)
        if run["status"] == "success" and finished is not None:
            self.note_last_success(finished)

    def note_last_run(self, finished: float, duration: float | None) -> None:
        """Keep the latest finished run; runs of one job may finish out of order."""
        if self.last_run is None or finished >= self.last_run:
            self.last_run = finished
            if duration is not None:
                self.last_duration = float(duration)

    def note_last_success(self, finished: float) -> None:
        if self.last_success is None or finished > self.last_success:
            self.last_success = finished

    def _observe(self, duration: float, trace_id: str | None, at: float) -> None:
        index = bisect.bisect_left(DURATION_BUCKETS, duration)
        self.bucket_counts[index] += 1
        self.duration_sum += duration
        if trace_id:
            self.exemplars[index] = Exemplar({"trace_id": trace_id}, duration, at)
