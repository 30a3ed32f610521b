"""jobwatch's collector: runs jobs, records every run and activity, serves the API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("jobwatch")
except PackageNotFoundError:
    __version__ = "0.0.0+unknown"

from collector.context import RunContext

__all__ = ["RunContext", "__version__"]
