"""MemoryStore: quota state in this process, bounded in keys and in idle time.

Atomic without locks: :meth:`MemoryStore.decide` never awaits, so on one event loop no other
task can run between reading a quota and consuming it. Each worker process has its own counts
(N workers admit up to N times a limit); use ``RedisStore`` to share them.

Bounded memory. All state lives in one ordered dict, least recently touched first:

* idle keys go away: each decision drops up to ``sweep`` of the least recently touched keys
  while they are expired (a key expires once its state is equivalent to no state at all: a Rate
  when its bucket is full again, a Budget when its newest slot left the window...). The sweep
  stops at the first live key, so expired keys queued behind a long-lived one (a day's Budget)
  wait for it: memory follows the keys touched within the longest window, and never exceeds
  ``max_keys``. Expired state is also ignored on access (the math treats it as absent), so
  correctness never waits for the sweep;
* at most ``max_keys`` keys: the least recently touched key is evicted first. Eviction forgets
  usage, so it fails open for that key: its next request starts from a full quota. We accept
  that rather than fail closed (refuse keys we cannot track) because failing closed lets anyone
  who can mint identities lock every newcomer out, while failing open only forgives keys idle
  longer than the last ``max_keys`` distinct keys touched; an active scraper keeps its own keys
  hot, and a scraper rotating identities starts fresh anyway. Size ``max_keys`` for the number
  of keys you expect in your longest window (see docs for the memory it costs).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from shield.clock import Clock, system_clock
from shield.quotas.limits import Budget, Counter, Distinct, Rate, State
from shield.quotas.store import Charge, Decision, Outcome, Penalty, check_penalty_args, make_decision, make_outcome

__all__ = ["MemoryStore"]

# The namespace of each kind inside the one dict: a Rate and a Budget may share a caller's key.
_PREFIX: dict[type, str] = {Rate: "r", Budget: "b", Distinct: "d", Counter: "c"}
_US = 1_000_000


class MemoryStore:
    """In-process :class:`~shield.quotas.store.QuotaStore`: exact, fast, per worker.

    >>> store = MemoryStore(max_keys=100_000)  # doctest: +SKIP
    >>> decision = await store.decide([Charge("q:rate:user:42", Rate(10, 1.0))])  # doctest: +SKIP
    """

    __slots__ = ("_clock", "_entries", "_sweep", "max_keys")

    def __init__(self, clock: Clock = system_clock, max_keys: int = 1_000_000, *, sweep: int = 2) -> None:
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError(f"MemoryStore.max_keys must be a positive integer, got {max_keys!r}")
        if isinstance(sweep, bool) or not isinstance(sweep, int) or sweep < 1:
            raise ValueError(f"MemoryStore.sweep must be a positive integer, got {sweep!r}")
        self._clock = clock
        self._entries: OrderedDict[str, State] = OrderedDict()
        self._sweep = sweep
        self.max_keys = max_keys

    def __len__(self) -> int:
        """How many keys the store holds (penalty state included)."""
        return len(self._entries)

    async def decide(
        self, charges: Sequence[Charge], *, penalty: Penalty | None = None, penalty_key: str | None = None
    ) -> Decision:
        """Weigh every charge atomically, all or nothing (see :mod:`shield.quotas.store`)."""
        return self.decide_now(charges, penalty=penalty, penalty_key=penalty_key)

    def decide_now(
        self, charges: Sequence[Charge], *, penalty: Penalty | None = None, penalty_key: str | None = None
    ) -> Decision:
        """The synchronous body of :meth:`decide`, for callers outside an event loop."""
        check_penalty_args(penalty, penalty_key)
        now = int(self._clock() * _US)
        keys: list[str] = []
        states: list[State] = []
        retries: list[int] = []
        refused_by = self._weigh(charges, now, keys, states, retries)
        blocked = 0
        if penalty is not None and penalty_key is not None:
            blocked, refused_by = self._penalize(penalty, penalty_key, now, refused_by)
        allowed = refused_by is None and not blocked
        outcomes = self._settle(charges, now, allowed, keys, states, retries)
        if len(self._entries) > self.max_keys:
            self._evict()
        self._sweep_idle(now)
        return make_decision(allowed, outcomes, refused_by, now / _US, blocked_for=blocked / _US)

    def _weigh(
        self, charges: Sequence[Charge], now: int, keys: list[str], states: list[State], retries: list[int]
    ) -> int | None:
        """Check every charge: fill in its key, state and µs until it fits; the first enforced refusal."""
        get = self._entries.get
        refused_by: int | None = None
        for i, charge in enumerate(charges):
            spec = charge.spec
            key = _PREFIX[type(spec)] + charge.key
            if key in keys:
                raise ValueError(f"one decision charges {charge.key!r} twice for the same kind of quota")
            state = get(key)
            if isinstance(spec, Distinct):
                retry = spec.check(state, now, spec.fresh(state, now, charge.members))
            else:
                retry = spec.check(state, now, charge.cost)
            if retry and refused_by is None and charge.enforce:
                refused_by = i
            keys.append(key)
            states.append(state)
            retries.append(retry)
        return refused_by

    def _penalize(self, penalty: Penalty, penalty_key: str, now: int, refused_by: int | None) -> tuple[int, int | None]:
        """``(µs blocked, refused_by)``: an active block refuses outright; a refusal is a strike."""
        entries = self._entries
        key = "p" + penalty_key
        state = entries.get(key)
        blocked = Penalty.blocked(state, now)
        if blocked:
            refused_by = None  # refused by the block, whatever the charges say
        elif refused_by is not None:
            entries[key] = state = penalty.strike(state, now)
            blocked = Penalty.blocked(state, now)
        if state is not None:
            entries.move_to_end(key)
        return blocked, refused_by

    def _settle(  # noqa: PLR0917 -- the hot path passes its scratch lists positionally, not as a new object
        self,
        charges: Sequence[Charge],
        now: int,
        allowed: bool,
        keys: list[str],
        states: list[State],
        retries: list[int],
    ) -> tuple[Outcome, ...]:
        """Consume every fitting charge when the decision is allowed; report each one."""
        entries = self._entries
        outcomes: list[Outcome] = []
        for i, charge in enumerate(charges):
            spec = charge.spec
            state = states[i]
            retry = retries[i]
            if allowed and not retry and not charge.peek:
                if isinstance(spec, Distinct):
                    if charge.members:
                        state = spec.consume(state, now, charge.members)
                elif charge.cost:
                    state = spec.consume(state, now, charge.cost)
                if state is not None:
                    entries[keys[i]] = state
            if state is not None:
                entries.move_to_end(keys[i])  # least recently touched first: the sweep and eviction order
            remaining, reset = spec.view(state, now)
            outcomes.append(make_outcome(not retry, spec.limit, remaining, reset / _US, retry / _US))
        return tuple(outcomes)

    async def aclose(self) -> None:
        """Forget everything (nothing to release but memory)."""
        self._entries.clear()

    def _evict(self) -> None:
        entries = self._entries
        while len(entries) > self.max_keys:
            entries.popitem(last=False)

    def _sweep_idle(self, now: int) -> None:
        """Drop the least recently touched keys while they are expired (a few per decision)."""
        entries = self._entries
        for _ in range(min(self._sweep, len(entries))):
            key = next(iter(entries))
            value = entries[key]
            if (value if type(value) is int else value[0]) > now:
                return  # still live: it stays first in line for eviction, and for the next sweep
            del entries[key]
