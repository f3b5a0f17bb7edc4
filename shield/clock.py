"""The injectable clock: every time-dependent decision in shield reads one of these.

A clock is any zero-argument callable returning Unix seconds as a float. Production uses
:func:`time.time`; tests pass a frozen clock they advance by hand, so nothing ever sleeps and
every worker that shares a wall clock (NTP) makes the same time-based decision.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeAlias

__all__ = ["Clock", "FrozenClock", "system_clock"]

Clock: TypeAlias = Callable[[], float]

system_clock: Clock = time.time


class FrozenClock:
    """A clock moved by hand (tests, simulations): it returns ``now`` until advanced or set."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
