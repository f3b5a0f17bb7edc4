"""A clock tests move by hand: time-dependent code is tested without ever sleeping."""

from __future__ import annotations


class FrozenClock:
    """Callable like :func:`time.time`; returns ``now`` until a test advances or sets it."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
