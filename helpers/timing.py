"""Wall time and peak memory of a block of code, for the comparison tables.

Introduced in ``03_vgg16_feature_extraction.ipynb``.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass, field


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB (10^6 bytes; Linux counts ru_maxrss in KiB, macOS in bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak if sys.platform == "darwin" else peak * 1024) / 1e6


@dataclass
class Timer:
    """Context manager: ``with Timer() as t: ...`` then ``t.seconds``, ``t.peak_mb`` and ``t.rate(n)``."""

    seconds: float = 0.0
    peak_mb: float = 0.0
    _start: float = field(default=0.0, repr=False)

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
        self.peak_mb = peak_memory_mb()

    def rate(self, items: int) -> float:
        """Items per second over the timed block."""
        return items / self.seconds if self.seconds else float("nan")
