"""Quota specs and their pure math, on integer microseconds.

Every quantity of time inside the engine is an ``int`` of microseconds: Python ints and Lua
doubles (exact below 2**53, and Unix time in µs is ~1.7e15) then compute the very same
numbers, so the memory and Redis stores agree to the microsecond and the "never over-admit"
bounds hold exactly instead of up to a float epsilon. Per-spec constants are computed once, in
``__post_init__``, because the memory store reads them on every request.

The state each spec keeps per key is deliberately tiny (an int, a short list of ints), so a
million identities fit in memory; the methods below are the memory store's math, and
``decide.lua`` is the same math for Redis (the conformance suite holds the two together).

* :class:`Rate` — GCRA. State: the theoretical arrival time ``tat``. A charge of ``n`` fits when
  ``max(tat, now) + n*T - now <= burst*T``. Over any interval of length ``t`` at most
  ``burst + t/T`` units are admitted.
* :class:`Budget` — a sliding window of ``slots`` sub-buckets counted conservatively (see its
  docstring). State: ``[expiry, total, slot, count, slot, count, ...]``, oldest slot first.
* :class:`Distinct` — distinct members seen in the trailing window. State:
  ``[expiry, OrderedDict(member -> last seen)]`` in last-seen order.
* :class:`Counter` — a fixed counter that dies ``ttl`` after its first use. State:
  ``[expiry, count]``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeAlias

__all__ = [
    "MAX_LIMIT",
    "MAX_WINDOW",
    "MIN_SLOT",
    "US",
    "Budget",
    "Counter",
    "Distinct",
    "Quota",
    "Rate",
    "State",
    "to_us",
]

US = 1_000_000
# Bounds that keep every sum and µs product far below 2**53, where Lua doubles stop being exact.
MAX_WINDOW = 10 * 366 * 86_400.0  # ten years
MAX_LIMIT = 2**40  # units, members, costs
MIN_SLOT = 0.001  # seconds; a slot index then stays below 1e14 (Lua prints it exactly)

# The state of one key is an int (Rate) or a list of ints (the others); the store keeps them in
# one dict, so the per-spec methods take whatever that dict holds and know its shape.
State: TypeAlias = Any


def to_us(seconds: float) -> int:
    """Seconds to whole microseconds, rounded up: a limit never gets shorter by rounding."""
    return math.ceil(seconds * US)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ValueError(f"{name} must be an integer in [1, 2**40], got {value!r}")
    return value


def _window(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_WINDOW:
        raise ValueError(f"{name} must be a number of seconds in (0, {MAX_WINDOW:.0f}], got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` requests per ``window`` seconds, smoothed by GCRA, bursts up to ``burst``.

    The emission interval is ``T = window / limit`` (rounded up to a microsecond); a cost of
    ``n`` uses ``n*T``; an idle key holds ``burst`` (default ``limit``) units. ``remaining``
    counts whole units that fit now (at most ``burst``); ``reset_after`` is when it is full.
    A cost above ``burst`` can never fit: its ``retry_after`` is ``window``.

    >>> Rate(100, 60.0)  # 100 per minute, all 100 may come at once after an idle minute
    Rate(limit=100, window=60.0, burst=None)
    """

    limit: int
    window: float
    burst: int | None = None
    _t: int = field(init=False, repr=False, compare=False)
    _tol: int = field(init=False, repr=False, compare=False)
    _cap: int = field(init=False, repr=False, compare=False)
    _window_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        limit = _positive_int("Rate.limit", self.limit)
        window_us = to_us(_window("Rate.window", self.window))
        cap = limit if self.burst is None else _positive_int("Rate.burst", self.burst)
        t = -(-window_us // limit)
        if t < 1 or window_us // limit < 1:
            raise ValueError(f"Rate.limit {limit} is too high for a {self.window} s window (interval under 1 µs)")
        if cap * t > to_us(MAX_WINDOW):
            raise ValueError(f"Rate.burst {cap} spans more than ten years of emission intervals")
        object.__setattr__(self, "_t", t)
        object.__setattr__(self, "_tol", cap * t)
        object.__setattr__(self, "_cap", cap)
        object.__setattr__(self, "_window_us", window_us)

    def check(self, tat: State, now: int, cost: int) -> int:
        """Microseconds until ``cost`` fits: 0 when it fits now."""
        if cost > self._cap:
            return self._window_us
        over = (tat if tat is not None and tat > now else now) + cost * self._t - now - self._tol
        return over if over > 0 else 0

    def consume(self, tat: State, now: int, cost: int) -> int:
        return (tat if tat is not None and tat > now else now) + cost * self._t

    def view(self, tat: State, now: int) -> tuple[int, int]:
        """``(remaining units, µs until full)``."""
        if tat is None or tat <= now:
            return self._cap, 0
        remaining = (self._tol - tat + now) // self._t  # < 0 only if the spec shrank since
        return (remaining if remaining > 0 else 0), tat - now

    @staticmethod
    def expiry(tat: State) -> int:
        return int(tat)


@dataclass(frozen=True, slots=True)
class Budget:
    """At most ``limit`` units in ANY interval of ``window`` seconds, via ``slots`` sub-buckets.

    Time is cut into slots of width ``w = window / slots`` (rounded up to a microsecond). A
    charge at time ``now`` (in slot ``i``) counts every unit recorded in slots ``i - slots``
    to ``i``: the ``slots`` newest plus the WHOLE oldest, partially expired one. So every unit
    admitted in the last ``window`` seconds is always counted, and the store never admits more
    than ``limit`` units in any interval of length ``window``. The price: a unit keeps counting
    for up to one slot longer than ``window`` (between ``window`` and ``window + w`` after it was
    recorded), so a client at its limit is refused up to one slot early. More slots, tighter
    edge, more state (at most ``slots + 1`` pairs of ints per key).
    """

    limit: int
    window: float
    slots: int = 12
    _w: int = field(init=False, repr=False, compare=False)
    _window_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _positive_int("Budget.limit", self.limit)
        window = _window("Budget.window", self.window)
        slots = _positive_int("Budget.slots", self.slots)
        if window / slots < MIN_SLOT:
            raise ValueError(f"Budget.slots: a slot must last at least {MIN_SLOT} s, got {window / slots} s")
        window_us = to_us(window)
        object.__setattr__(self, "_w", -(-window_us // slots))
        object.__setattr__(self, "_window_us", window_us)

    def check(self, state: State, now: int, cost: int) -> int:
        """Microseconds until ``cost`` fits: 0 when it fits now. Drops slots that expired."""
        if cost > self.limit:
            return self._window_us
        if state is None:
            return 0
        oldest = now // self._w - self.slots
        while len(state) > 2 and state[2] < oldest:
            state[1] -= state[3]
            del state[2:4]
        need = state[1] + cost - self.limit
        if need <= 0:
            return 0
        freed = 0
        for j in range(2, len(state), 2):  # oldest first: when enough of them have left
            freed += state[j + 1]
            if freed >= need:
                return int(state[j] + self.slots + 1) * self._w - now
        raise AssertionError("unreachable: cost <= limit so the recorded units cover the excess")  # pragma: no cover

    def consume(self, state: State, now: int, cost: int) -> State:
        cur = now // self._w
        if state is None:
            return [(cur + self.slots + 1) * self._w, cost, cur, cost]
        if len(state) > 2 and state[-2] >= cur:
            state[-1] += cost
        else:
            state += (cur, cost)
            state[0] = (cur + self.slots + 1) * self._w
        state[1] += cost
        return state

    def view(self, state: State, now: int) -> tuple[int, int]:
        if state is None or state[1] <= 0:
            return self.limit, 0
        return max(self.limit - state[1], 0), state[0] - now

    @staticmethod
    def expiry(state: State) -> int:
        return int(state[0])


@dataclass(frozen=True, slots=True)
class Distinct:
    """At most ``limit`` distinct members (record ids) seen in the trailing ``window`` seconds.

    Seeing a member again inside the window costs nothing and refreshes its time; a charge
    costs the number of members new to the window, all or nothing. Exact mode keeps
    member -> last seen (memory: an ordered dict; Redis: a sorted set). ``approximate=True``
    makes Redis keep one HyperLogLog per slot (``slots`` of them, counted like a
    :class:`Budget`) and count their union with PFCOUNT: ~12 KB per slot whatever the number
    of members, at a standard error of 0.81%, so it may admit or refuse around the limit by
    about that much. The memory store is always exact (its state is bounded by ``limit``).
    """

    limit: int
    window: float
    approximate: bool = False
    slots: int = 12
    _window_us: int = field(init=False, repr=False, compare=False)
    _w: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _positive_int("Distinct.limit", self.limit)
        window = _window("Distinct.window", self.window)
        slots = _positive_int("Distinct.slots", self.slots)
        if not isinstance(self.approximate, bool):
            raise ValueError(f"Distinct.approximate must be a bool, got {self.approximate!r}")
        if window / slots < MIN_SLOT:
            raise ValueError(f"Distinct.slots: a slot must last at least {MIN_SLOT} s, got {window / slots} s")
        window_us = to_us(window)
        object.__setattr__(self, "_window_us", window_us)
        object.__setattr__(self, "_w", -(-window_us // slots))

    def fresh(self, state: State, now: int, members: Sequence[str]) -> int:
        """How many of ``members`` are new to the window (the charge's cost). Drops expired ones."""
        if state is None:
            return len(members) if len(members) < 2 else len(set(members))
        seen: OrderedDict[str, int] = state[1]
        horizon = now - self._window_us
        while seen:  # oldest first: members are kept in last-seen order
            _, last = next(iter(seen.items()))
            if last > horizon:
                break
            seen.popitem(last=False)
        if len(members) < 2:
            return sum(1 for m in members if m not in seen)
        return sum(1 for m in set(members) if m not in seen)

    def check(self, state: State, now: int, cost: int) -> int:
        if cost > self.limit:
            return self._window_us
        if state is None:
            return 0
        need = len(state[1]) + cost - self.limit
        if need <= 0:
            return 0
        # The need-th oldest member leaves at its last sighting + window: a hint, since members of
        # this very charge that are among the oldest would be refreshed rather than leave.
        return int(next(islice(state[1].values(), need - 1, None))) + self._window_us - now

    def consume(self, state: State, now: int, members: Sequence[str]) -> State:
        if state is None:
            state = [0, OrderedDict()]
        seen: OrderedDict[str, int] = state[1]
        for member in members:
            if member in seen:
                seen.move_to_end(member)
            seen[member] = now
        if seen:
            state[0] = now + self._window_us
        return state

    def view(self, state: State, now: int) -> tuple[int, int]:
        if state is None or not state[1]:
            return self.limit, 0
        return max(self.limit - len(state[1]), 0), max(int(state[0]) - now, 0)

    @staticmethod
    def expiry(state: State) -> int:
        return int(state[0])


@dataclass(frozen=True, slots=True)
class Counter:
    """At most ``limit`` units in total; the counter vanishes ``ttl`` seconds after first use.

    For "this cursor may be replayed at most N times": the key is the token, the ttl its life.
    A cost above ``limit`` never fits: its ``retry_after`` is ``ttl``.
    """

    limit: int
    ttl: float
    _ttl_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _positive_int("Counter.limit", self.limit)
        object.__setattr__(self, "_ttl_us", to_us(_window("Counter.ttl", self.ttl)))

    def check(self, state: State, now: int, cost: int) -> int:
        if cost > self.limit:
            return self._ttl_us
        if state is None or state[0] <= now or state[1] + cost <= self.limit:
            return 0
        return int(state[0]) - now

    def consume(self, state: State, now: int, cost: int) -> State:
        if state is None or state[0] <= now:
            return [now + self._ttl_us, cost]
        state[1] += cost
        return state

    def view(self, state: State, now: int) -> tuple[int, int]:
        if state is None or state[0] <= now:
            return self.limit, 0
        return max(self.limit - state[1], 0), state[0] - now

    @staticmethod
    def expiry(state: State) -> int:
        return int(state[0])


Quota: TypeAlias = Rate | Budget | Distinct | Counter
