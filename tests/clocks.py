"""A clock tests move by hand: time-dependent code is tested without ever sleeping."""

from __future__ import annotations

from shield.clock import FrozenClock

__all__ = ["FrozenClock"]
