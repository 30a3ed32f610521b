"""Per-job exposition blocks, rendered once and spliced into one valid exposition.

Encoding 1,000 jobs through prometheus_client on every scrape costs far more than
the scrape is worth, and between two scrapes most jobs have not changed. So each job's
samples are encoded once, by prometheus_client's own encoder (so escaping, float
formatting and exemplars are exactly the library's), split by family, and reused until
the job's version changes. A scrape then only concatenates bytes: each family's
HELP/TYPE header once, followed by every job's lines of that family, which keeps each
family contiguous as both the text format and OpenMetrics require.
"""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client.metrics_core import Metric

Encoder = Callable[[Any], bytes]
_EOF = b"# EOF\n"


class StaticCollector:
    """Presents ready-made families through the ``collect()`` interface encoders take."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> list[Metric]:
        return self._families


def split_families(exposition: bytes) -> list[tuple[bytes, bytes]]:
    """``(header lines, sample lines)`` per family, in order; the OpenMetrics EOF is dropped.

    Header lines are the ``# HELP``/``# TYPE``/``# UNIT`` comments; an exemplar
    (`` # {...}``) sits inside a sample line, which never starts with ``#``.
    """
    families: list[tuple[list[bytes], list[bytes]]] = []
    for line in exposition.splitlines(keepends=True):
        if line == _EOF:
            continue
        if line.startswith(b"# HELP "):
            families.append(([line], []))
        elif line.startswith(b"# "):
            families[-1][0].append(line)
        else:
            families[-1][1].append(line)
    return [(b"".join(header), b"".join(samples)) for header, samples in families]


class BlockCache:
    """Each job's sample lines per family in one format, tagged with the job's version."""

    def __init__(self, encoder: Encoder, empty_families: Sequence[Metric]) -> None:
        self._encoder = encoder
        self._headers = [header for header, _ in self._encode(empty_families)]
        self._blocks: dict[str, tuple[int, list[bytes]]] = {}

    def is_current(self, job: str, version: int) -> bool:
        cached = self._blocks.get(job)
        return cached is not None and cached[0] == version

    def store(self, job: str, version: int, families: Sequence[Metric]) -> None:
        """Encode one job's families; they must be the same families, in the same order."""
        chunks = [samples for _, samples in self._encode(families)]
        if len(chunks) != len(self._headers):
            raise ValueError(f"job {job!r}: {len(chunks)} families, not {len(self._headers)}")
        self._blocks[job] = (version, chunks)

    def _encode(self, families: Sequence[Metric]) -> list[tuple[bytes, bytes]]:
        return split_families(self._encoder(StaticCollector(families)))

    def forget(self, jobs: Iterable[str]) -> None:
        for job in jobs:
            self._blocks.pop(job, None)

    def splice(self, jobs: Sequence[str]) -> bytes:
        """The exposition of ``jobs`` (each stored and current) in this order."""
        blocks = [self._blocks[job][1] for job in jobs]
        parts: list[bytes] = []
        for index, header in enumerate(self._headers):
            parts.append(header)
            parts.extend(chunks[index] for chunks in blocks)
        return b"".join(parts)
