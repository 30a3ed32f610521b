"""jobwatch's collector: runs jobs, records every run and activity, serves the API."""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("jobwatch")
except PackageNotFoundError:
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from collector.context import RunContext

__all__ = ["RunContext", "__version__"]


def __getattr__(name: str) -> Any:
    """Import ``RunContext`` on first use, so ``collector.client`` stays light for apps
    (Django, Celery) that only report runs and never load the database layer."""
    if name == "RunContext":
        from collector.context import RunContext

        return RunContext
    raise AttributeError(f"module 'collector' has no attribute {name!r}")
