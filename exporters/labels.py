"""Fixed label values and histogram buckets: the only label values not taken from the config.

Statuses and record outcomes are the collector's own enums, imported so the two can
never drift apart; the drop reasons are the ones ``collector.activity`` publishes.
"""

import math

from collector.counts import COUNT_NAMES as RECORD_OUTCOMES
from collector.runs import ACTIVE_STATUSES as LIVE_STATUSES
from collector.runs import FINAL_STATUSES

DROP_REASONS = ("queue_full", "write_error")
# Jobs last from seconds (a quick API sync) to hours (a full re-import).
DURATION_BUCKETS = (
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    1200.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, math.inf,
)  # fmt: skip

__all__ = ["DROP_REASONS", "DURATION_BUCKETS", "FINAL_STATUSES", "LIVE_STATUSES", "RECORD_OUTCOMES"]
