"""The storage contract: what the middleware asks a quota store, and what it answers.

One :meth:`QuotaStore.decide` call weighs every charge of a request against the current state
atomically and all or nothing: if any enforced charge refuses (or the identity is blocked by a
:class:`Penalty`), nothing at all is consumed; otherwise every charge that fits is consumed.
So a request refused by its hourly budget does not also eat its per-second rate, and two
workers racing on one key can never both take its last unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shield.errors import ShieldError
from shield.quotas.limits import MAX_LIMIT, Budget, Counter, Distinct, Quota, Rate, State, _window, to_us

__all__ = ["Charge", "Decision", "MissingBackend", "Outcome", "Penalty", "QuotaStore", "StoreUnavailable"]


class StoreUnavailable(ShieldError):
    """The backend could not answer (connection refused, timeout, server error).

    :class:`~shield.quotas.resilient.ResilientStore` turns it into a degraded decision; the
    backend's own exception is chained as ``__cause__``.
    """


class MissingBackend(ShieldError, ImportError):
    """An optional backend's library is not installed; the message names the extra to install."""


@dataclass(frozen=True, slots=True)
class Charge:
    """What one request asks of one quota.

    ``key`` is the caller's logical key (``"q:list-rate:user:<digest>"``); the store namespaces
    it by kind, so a Rate and a Budget may share a key, but one decision may not charge the same
    key and kind twice. ``cost`` counts units (ignored by :class:`Distinct`, which costs the
    number of ``members`` new to its window). ``enforce=False`` is shadow mode: decided and
    reported, never refuses, and consumed only when it fits. ``peek=True`` asks whether ``cost``
    would fit right now and consumes nothing (a record budget checked before the app runs).
    """

    key: str
    spec: Quota
    cost: int = 1
    members: tuple[str, ...] = ()
    enforce: bool = True
    peek: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.cost, bool) or not isinstance(self.cost, int) or not 0 <= self.cost <= MAX_LIMIT:
            raise ValueError(f"Charge.cost must be an integer in [0, 2**40], got {self.cost!r}")
        if self.members and not isinstance(self.spec, Distinct):
            raise ValueError(f"Charge.members is for Distinct quotas only, not {type(self.spec).__name__}")
        if not isinstance(self.spec, Rate | Budget | Distinct | Counter):
            raise ValueError(f"Charge.spec must be a Rate, Budget, Distinct or Counter, got {self.spec!r}")


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one charge fared.

    ``remaining`` is what the quota holds after the whole decision (unchanged when the decision
    was refused or the charge peeked); ``reset_after`` is seconds until it is full again;
    ``retry_after`` seconds until this charge would fit (0.0 when it fits; the window, or a
    Counter's ttl, for a cost that can never fit).
    """

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float


@dataclass(frozen=True, slots=True)
class Penalty:
    """``strikes`` refusals within ``within`` seconds block the identity for ``block`` seconds."""

    strikes: int
    within: float
    block: float
    _within_us: int = field(init=False, repr=False, compare=False)
    _block_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.strikes, bool) or not isinstance(self.strikes, int) or self.strikes < 1:
            raise ValueError(f"Penalty.strikes must be a positive integer, got {self.strikes!r}")
        object.__setattr__(self, "_within_us", to_us(_window("Penalty.within", self.within)))
        object.__setattr__(self, "_block_us", to_us(_window("Penalty.block", self.block)))

    # State (memory store): [expiry, blocked_until, strike, strike, ...], strikes oldest first.

    @staticmethod
    def blocked(state: State, now: int) -> int:
        """Microseconds the block has left (0: not blocked)."""
        return int(state[1]) - now if state is not None and state[1] > now else 0

    def strike(self, state: State, now: int) -> State:
        """Record a refusal; start the block when enough of them fall within ``within``."""
        if state is None:
            state = [0, 0]
        state.append(now)
        if len(state) - 2 > self.strikes:
            del state[2]
        if len(state) - 2 >= self.strikes and state[2] > now - self._within_us:
            state[1] = now + self._block_us
            del state[2:]
            state[0] = state[1]
        else:
            state[0] = max(int(state[1]), now + self._within_us)
        return state


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one :meth:`QuotaStore.decide` call.

    ``allowed`` is False iff an enforced charge refused or a penalty block is active.
    ``refused_by`` is the index of the first enforced charge that refused (None when allowed or
    when refused by the block). ``blocked_for`` is > 0 while a block is active, including on
    the decision whose strike started it. ``now`` is the store's time in Unix seconds (Redis
    TIME for Redis). ``degraded`` is True when a fallback answered because the primary store was
    down (see :class:`~shield.quotas.resilient.ResilientStore`).
    """

    allowed: bool
    outcomes: tuple[Outcome, ...]
    refused_by: int | None
    now: float
    blocked_for: float = 0.0
    degraded: bool = False


class QuotaStore(Protocol):
    """Where quota state lives: :class:`~shield.quotas.memory.MemoryStore` or ``RedisStore``."""

    async def decide(
        self, charges: Sequence[Charge], *, penalty: Penalty | None = None, penalty_key: str | None = None
    ) -> Decision:
        """Weigh every charge atomically, all or nothing; see the module docstring."""
        ...

    async def aclose(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


def check_penalty_args(penalty: Penalty | None, penalty_key: str | None) -> None:
    """A penalty needs the key it blocks, and a key without a penalty means a caller's mistake."""
    if (penalty is None) != (penalty_key is None):
        raise ValueError("decide() takes penalty and penalty_key together, or neither")


# The hot path builds a few of these per request; a frozen dataclass's __init__ goes through
# object.__setattr__ once per field (~0.9 µs each on a slow core), writing the slots directly is
# half that. Same objects, same equality: tests compare the two constructions.
_new = object.__new__
_set_allowed, _set_limit, _set_remaining, _set_reset, _set_retry = (
    getattr(Outcome, name).__set__ for name in ("allowed", "limit", "remaining", "reset_after", "retry_after")
)
_set_d_allowed, _set_outcomes, _set_refused_by, _set_now, _set_blocked, _set_degraded = (
    getattr(Decision, name).__set__ for name in ("allowed", "outcomes", "refused_by", "now", "blocked_for", "degraded")
)


def make_outcome(allowed: bool, limit: int, remaining: int, reset_after: float, retry_after: float) -> Outcome:
    """``Outcome(...)`` without the frozen-dataclass toll."""
    outcome: Outcome = _new(Outcome)
    _set_allowed(outcome, allowed)
    _set_limit(outcome, limit)
    _set_remaining(outcome, remaining)
    _set_reset(outcome, reset_after)
    _set_retry(outcome, retry_after)
    return outcome


def make_decision(
    allowed: bool,
    outcomes: tuple[Outcome, ...],
    refused_by: int | None,
    now: float,
    *,
    blocked_for: float = 0.0,
    degraded: bool = False,
) -> Decision:
    """``Decision(...)`` without the frozen-dataclass toll."""
    decision: Decision = _new(Decision)
    _set_d_allowed(decision, allowed)
    _set_outcomes(decision, outcomes)
    _set_refused_by(decision, refused_by)
    _set_now(decision, now)
    _set_blocked(decision, blocked_for)
    _set_degraded(decision, degraded)
    return decision
