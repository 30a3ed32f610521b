"""Fixtures of the core tests: every process a fixture script records is gone at teardown."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.helpers import kill_recorded_pids


@pytest.fixture(autouse=True)
def _no_leftover_job_processes(tmp_path: Path) -> Iterator[None]:
    """Command jobs run in their own sessions, so a collector killed with -9 orphans them."""
    yield
    kill_recorded_pids(tmp_path)
