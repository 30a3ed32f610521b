from collections.abc import Callable
from datetime import datetime

import pytest
from prometheus_client import CollectorRegistry

from collector.jobconfig import JobConfigBase
from exporters.metrics import JobwatchMetrics
from tests.exporters.helpers import JOBS, T0

NEXT_RUNS = {"crm": T0.replace(hour=13), "playlist": T0.replace(minute=30)}

MakeMetrics = Callable[..., JobwatchMetrics]


@pytest.fixture
def make_metrics() -> MakeMetrics:
    """A JobwatchMetrics on its own fresh registry (never the global one)."""

    def make(
        jobs: list[JobConfigBase] = JOBS,
        *,
        next_run: Callable[[str], datetime | None] = NEXT_RUNS.get,
        queue_size: Callable[[], int] = lambda: 0,
        registry: CollectorRegistry | None = None,
    ) -> JobwatchMetrics:
        return JobwatchMetrics(
            registry if registry is not None else CollectorRegistry(),
            jobs,
            next_run=next_run,
            queue_size=queue_size,
            version="1.2.3",
        )

    return make


@pytest.fixture
def metrics(make_metrics: MakeMetrics) -> JobwatchMetrics:
    return make_metrics()
