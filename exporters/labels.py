"""Fixed label values and histogram buckets: the only label values not taken from the config."""

import math

FINAL_STATUSES = ("success", "partial", "failed", "cancelled", "timed_out", "abandoned")
LIVE_STATUSES = ("queued", "running")
RECORD_OUTCOMES = ("processed", "created", "updated", "failed")
DROP_REASONS = ("queue_full", "write_error")
# Jobs last from seconds (a quick API sync) to hours (a full re-import).
DURATION_BUCKETS = (
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    1200.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, math.inf,
)  # fmt: skip
