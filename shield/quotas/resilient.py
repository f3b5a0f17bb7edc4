"""ResilientStore: keep deciding while the shared store is down.

A quota store outage must not become an API outage, nor an unlimited free-for-all. So each
decision goes to the primary (Redis) under a short timeout; when it times out or fails to
connect, the primary is marked down for ``retry_after`` seconds and decisions come from a
bounded local fallback (a :class:`~shield.quotas.memory.MemoryStore`) with
``Decision.degraded = True``. After that pause ONE request probes the primary again (the others
keep using the fallback meanwhile, so a dead server costs one timeout per pause, not one per
request); when it answers, the store is back on the primary.

The middleware applies each quota's outage mode from ``degraded``: ``open`` quotas accept the
fallback's decision (per-worker counts: N workers admit up to N times the limit while Redis is
away), ``closed`` quotas refuse with 503. Counts taken by the fallback are not copied to the
primary when it comes back: the outage window is forgiven, never double-charged.

Outages never raise to the caller: only programming errors do (a bad charge, a ValueError).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

from shield.clock import Clock, system_clock
from shield.quotas.store import Charge, Decision, Penalty, QuotaStore, StoreUnavailable, check_penalty_args

__all__ = ["OUTAGES", "ResilientStore"]

logger = logging.getLogger("shield.quotas")

# What counts as "the store is down": RedisStore wraps redis-py's errors in StoreUnavailable;
# TimeoutError is our own deadline; OSError covers sockets failing outside the client's wrapping.
OUTAGES: tuple[type[BaseException], ...] = (StoreUnavailable, TimeoutError, OSError)


class ResilientStore:
    """A :class:`~shield.quotas.store.QuotaStore` that falls back to ``fallback`` while ``primary`` is down.

    >>> store = ResilientStore(RedisStore(), MemoryStore(max_keys=100_000))  # doctest: +SKIP
    """

    def __init__(
        self,
        primary: QuotaStore,
        fallback: QuotaStore,
        *,
        timeout: float = 0.05,
        retry_after: float = 1.0,
        clock: Clock = system_clock,
    ) -> None:
        for name, value in (("timeout", timeout), ("retry_after", retry_after)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"ResilientStore.{name} must be a positive number of seconds, got {value!r}")
        self.primary = primary
        self.fallback = fallback
        self._timeout = float(timeout)
        self._retry_after = float(retry_after)
        self._clock = clock
        self._down_until: float | None = None
        self._probing = False
        #: How many decisions the primary failed (a counter for metrics), and the latest failure.
        self.failures = 0
        self.last_error: BaseException | None = None

    @property
    def degraded(self) -> bool:
        """True while the primary is considered down."""
        return self._down_until is not None

    async def decide(
        self, charges: Sequence[Charge], *, penalty: Penalty | None = None, penalty_key: str | None = None
    ) -> Decision:
        """The primary's decision, or the fallback's with ``degraded=True`` while it is down."""
        check_penalty_args(penalty, penalty_key)
        probe = False
        if self._down_until is not None:
            if self._probing or self._clock() < self._down_until:
                return await self._degraded(charges, penalty, penalty_key)
            self._probing = probe = True
        try:
            async with asyncio.timeout(self._timeout):
                decision = await self.primary.decide(charges, penalty=penalty, penalty_key=penalty_key)
        except OUTAGES as exc:
            self.failures += 1
            self.last_error = exc
            if self._down_until is None:
                logger.warning("quota store down, deciding locally for %.1f s: %r", self._retry_after, exc)
            self._down_until = self._clock() + self._retry_after
            return await self._degraded(charges, penalty, penalty_key)
        finally:
            if probe:
                self._probing = False
        if self._down_until is not None:
            logger.warning("quota store back, deciding on the primary again")
            self._down_until = None
        return decision

    async def _degraded(self, charges: Sequence[Charge], penalty: Penalty | None, penalty_key: str | None) -> Decision:
        decision = await self.fallback.decide(charges, penalty=penalty, penalty_key=penalty_key)
        return dataclasses.replace(decision, degraded=True)

    async def aclose(self) -> None:
        """Close both stores."""
        try:
            await self.primary.aclose()
        finally:
            await self.fallback.aclose()
