"""Best-of-rounds CPU time per operation, shared by the micro-benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any


def per_item_us(fn: Callable[[Any], object], items: Sequence[Any], budget_s: float) -> float:
    """Microseconds of CPU per ``fn(item)``, the best round within ``budget_s`` seconds.

    Process time, not wall time: other load on the machine does not count.
    """
    best = float("inf")
    deadline = time.perf_counter() + budget_s
    while time.perf_counter() < deadline:
        t0 = time.process_time()
        for item in items:
            fn(item)
        best = min(best, (time.process_time() - t0) / len(items) * 1e6)
    return best
