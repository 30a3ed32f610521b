"""``external`` jobs: they run elsewhere (cron, Celery, CI) and report in through the API.

The collector never executes or schedules them; a ``schedule`` only says how often a
run is expected, so staleness can be derived from it. ``timeout`` bounds how long a
started run may go without finishing before the collector records it ``timed_out``.
``overlap`` and ``cancel_grace`` have no effect: the collector cannot hold back or
stop a process it does not own.
"""

from typing import Literal

from pydantic import model_validator

from collector.jobconfig import JobConfigBase
from collector.kinds.base import Kind


class ExternalJob(JobConfigBase):
    kind: Literal["external"]

    @model_validator(mode="after")
    def _can_go_stale(self) -> "ExternalJob":
        """A job that never reports is only noticed through staleness, so require a bound."""
        if self.stale_after is None and self.schedule is None:
            raise ValueError(
                "an external job needs stale_after or the schedule it is expected to run on"
            )
        return self

    def runs_here(self) -> bool:
        return False


KIND = Kind("external", ExternalJob, None)
