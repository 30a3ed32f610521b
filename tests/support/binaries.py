"""Find the real binaries the stack tests drive.

A missing binary skips the test with its name, unless ``JOBWATCH_REQUIRE_STACK=1``
(set by ``.ci/run``): then a missing binary is a failure, so CI can never go green by
skipping the checks it exists to run.
"""

import os
import shutil

import pytest


def stack_required() -> bool:
    return os.environ.get("JOBWATCH_REQUIRE_STACK") == "1"


def require_binary(*names: str) -> str:
    """Return the path of the first of ``names`` on PATH, or skip/fail naming them."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    reason = f"binary {' or '.join(names)!r} not found on PATH (apt-get install the Debian package)"
    if stack_required():
        pytest.fail(f"{reason}; JOBWATCH_REQUIRE_STACK=1 forbids skipping")
    pytest.skip(reason)
