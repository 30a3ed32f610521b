"""The record counts every run carries, in one light module that clients can import too."""

COUNT_NAMES = ("processed", "created", "updated", "failed")
LOG_TAIL_LINES = 200


def zero_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_NAMES, 0)


def add_counts(
    counts: dict[str, int], *, processed: int, created: int, updated: int, failed: int
) -> None:
    """Add one ``progress(...)`` call's deltas to running totals."""
    for name, value in zip(COUNT_NAMES, (processed, created, updated, failed), strict=True):
        counts[name] += int(value)
