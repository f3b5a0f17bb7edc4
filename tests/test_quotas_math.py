"""Quota specs and their pure math: validation, GCRA, sliding-window budgets, distinct sets, counters.

The properties here drive the per-spec math directly (no store), with an independent oracle:
the admitted history itself. The stores' conformance suite repeats the bounds end to end.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shield.quotas.limits import MAX_WINDOW, US, Budget, Counter, Distinct, Rate, to_us
from shield.quotas.store import Charge, Decision, Outcome, Penalty, make_decision, make_outcome

T0 = 1_700_000_000 * US

# (advance in µs, cost): a bursty client, sometimes idle for a while.
steps = st.lists(st.tuples(st.integers(0, 3_000_000), st.integers(0, 6)), min_size=1, max_size=120)


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Rate(0, 1.0), "Rate.limit"),
        (lambda: Rate(True, 1.0), "Rate.limit"),
        (lambda: Rate(1.5, 1.0), "Rate.limit"),  # type: ignore[arg-type]
        (lambda: Rate(10, 0), "Rate.window"),
        (lambda: Rate(10, -1.0), "Rate.window"),
        (lambda: Rate(10, math.inf), "Rate.window"),
        (lambda: Rate(10, math.nan), "Rate.window"),
        (lambda: Rate(10, MAX_WINDOW * 2), "Rate.window"),
        (lambda: Rate(10, "1"), "Rate.window"),  # type: ignore[arg-type]
        (lambda: Rate(10, 1.0, burst=0), "Rate.burst"),
        (lambda: Rate(10_000_000, 1.0), "too high"),
        (lambda: Rate(2**41, 1e9), "Rate.limit"),
        (lambda: Rate(1, 86_400.0 * 365, burst=100), "ten years"),
        (lambda: Charge("k", Rate(1, 1.0), cost=2**41), "Charge.cost"),
        (lambda: Budget(0, 60.0), "Budget.limit"),
        (lambda: Budget(10, 60.0, slots=0), "Budget.slots"),
        (lambda: Budget(10, 0.01, slots=12), "at least"),
        (lambda: Distinct(0, 60.0), "Distinct.limit"),
        (lambda: Distinct(5, 60.0, approximate=1), "approximate"),  # type: ignore[arg-type]
        (lambda: Distinct(5, 0.001, slots=12), "at least"),
        (lambda: Counter(0, 60.0), "Counter.limit"),
        (lambda: Counter(3, 0), "Counter.ttl"),
        (lambda: Penalty(0, 60.0, 60.0), "Penalty.strikes"),
        (lambda: Penalty(3, 0, 60.0), "Penalty.within"),
        (lambda: Penalty(3, 60.0, -5), "Penalty.block"),
        (lambda: Charge("k", Rate(1, 1.0), cost=-1), "Charge.cost"),
        (lambda: Charge("k", Rate(1, 1.0), cost=True), "Charge.cost"),
        (lambda: Charge("k", Rate(1, 1.0), members=("a",)), "Distinct quotas only"),
        (lambda: Charge("k", "rate"), "Charge.spec"),  # type: ignore[arg-type]
    ],
)
def test_specs_refuse_bad_values_with_a_value_error(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_specs_are_frozen_hashable_and_compare_by_their_fields() -> None:
    assert Rate(10, 1.0) == Rate(10, 1.0)
    assert Rate(10, 1.0) != Rate(10, 1.0, burst=3)
    assert len({Budget(5, 60.0), Budget(5, 60.0), Budget(5, 60.0, slots=6)}) == 2
    with pytest.raises(AttributeError):
        Rate(10, 1.0).limit = 5  # type: ignore[misc]
    assert repr(Rate(100, 60.0)) == "Rate(limit=100, window=60.0, burst=None)"


def test_to_us_rounds_up_so_a_window_never_shrinks() -> None:
    assert to_us(1.0) == US
    assert to_us(0.1) == 100_000
    assert to_us(1e-7) == 1


def test_fast_constructors_build_equal_objects() -> None:
    assert make_outcome(True, 5, 3, 1.5, 0.0) == Outcome(True, 5, 3, 1.5, 0.0)
    outcome = Outcome(False, 1, 0, 2.0, 2.0)
    made = make_decision(False, (outcome,), 0, 12.5, blocked_for=3.0, degraded=True)
    assert made == Decision(False, (outcome,), 0, 12.5, blocked_for=3.0, degraded=True)
    assert make_decision(True, (), None, 1.0) == Decision(True, (), None, 1.0)
    with pytest.raises(AttributeError):
        made.allowed = True  # type: ignore[misc]


# --- Rate: GCRA -----------------------------------------------------------------------------------


def test_rate_admits_its_burst_then_one_unit_per_interval() -> None:
    rate = Rate(5, 10.0)  # T = 2 s
    tat = None
    for admitted in range(5):
        assert rate.check(tat, T0, 1) == 0
        tat = rate.consume(tat, T0, 1)
        assert rate.view(tat, T0) == (4 - admitted, (admitted + 1) * 2 * US)
    assert rate.check(tat, T0, 1) == 2 * US
    assert rate.check(tat, T0 + 2 * US, 1) == 0
    assert rate.check(tat, T0, 6) == 10 * US  # more than the burst: never fits, retry = window


def test_rate_burst_caps_what_an_idle_key_holds() -> None:
    rate = Rate(60, 60.0, burst=3)
    assert rate.view(None, T0) == (3, 0)
    assert rate.check(None, T0, 3) == 0
    assert rate.check(None, T0, 4) == 60 * US


@given(steps, st.integers(1, 8), st.integers(1, 8), st.sampled_from([1.0, 2.5, 7.0]))
def test_rate_never_admits_more_than_the_gcra_bound(
    plan: list[tuple[int, int]], limit: int, burst: int, window: float
) -> None:
    rate = Rate(limit, window, burst=burst)
    interval = math.ceil(window * US / limit)
    now, tat, admitted = T0, None, []
    for advance, cost in plan:
        now += advance
        if rate.check(tat, now, cost) == 0:
            tat = rate.consume(tat, now, cost)
            admitted.append((now, cost))
        else:
            assert cost > burst or rate.check(tat, now, cost) > 0
    for i, (start, _) in enumerate(admitted):
        total = 0
        for at, cost in admitted[i:]:
            total += cost
            assert total <= burst + (at - start) / interval


# --- Budget: the conservative sliding window ---------------------------------------------------------


def test_budget_counts_the_whole_oldest_slot_and_says_when_it_leaves() -> None:
    budget = Budget(10, 60.0, slots=6)  # slots of 10 s; T0 is a slot boundary
    state = budget.consume(None, T0, 4)
    state = budget.consume(state, T0 + 15 * US, 4)
    assert budget.check(state, T0 + 20 * US, 2) == 0
    # 3 more would make 11: the 4 units of the first slot must leave, at T0 + (6 + 1) * 10 s.
    assert budget.check(state, T0 + 20 * US, 3) == 50 * US
    assert budget.view(state, T0 + 20 * US) == (2, 60 * US)  # the second slot leaves at T0 + 80 s
    # At T0 + 65 s the first slot is partially outside the window but still counts...
    assert budget.check(state, T0 + 65 * US, 3) == 5 * US
    # ...and at T0 + 70 s it has gone.
    assert budget.check(state, T0 + 70 * US, 3) == 0
    assert budget.view(state, T0 + 70 * US) == (6, 10 * US)
    assert budget.check(state, T0, 11) == 60 * US


@given(steps, st.integers(1, 12), st.sampled_from([(6.0, 3), (10.0, 12), (4.0, 1), (7.0, 5)]))
def test_budget_never_admits_more_than_its_limit_in_any_window(
    plan: list[tuple[int, int]], limit: int, shape: tuple[float, int]
) -> None:
    window, slots = shape
    budget = Budget(limit, window, slots=slots)
    window_us, slot_us = to_us(window), math.ceil(to_us(window) / slots)
    now, state = T0, None
    admitted: list[tuple[int, int]] = []
    for advance, cost in plan:
        now += advance
        recent = sum(c for at, c in admitted if at > now - window_us - slot_us)
        if budget.check(state, now, cost) == 0:
            if cost:
                state = budget.consume(state, now, cost)
            admitted.append((now, cost))
        else:
            # Refused only when the units of the last window (plus at most one slot) leave no room.
            assert cost > limit or recent + cost > limit
    for end, _ in admitted:
        assert sum(c for at, c in admitted if end - window_us <= at <= end) <= limit


# --- Distinct ----------------------------------------------------------------------------------------


def test_distinct_costs_only_new_members_and_refreshes_the_others() -> None:
    distinct = Distinct(3, 60.0)
    state = distinct.consume(None, T0, ("a", "b"))
    assert distinct.fresh(state, T0 + US, ("a", "b", "b", "c")) == 1
    assert distinct.fresh(None, T0, ("a", "a")) == 1
    state = distinct.consume(state, T0 + 10 * US, ("a",))  # a refreshed: b is now the oldest
    assert distinct.check(state, T0 + 20 * US, 2) == 60 * US - 20 * US  # b leaves at T0 + 60 s
    assert distinct.check(state, T0 + 20 * US, 4) == 60 * US
    assert distinct.fresh(state, T0 + 60 * US, ("c",)) == 1  # b expired and was dropped
    assert distinct.view(state, T0 + 60 * US) == (2, 10 * US)


@given(
    st.lists(st.tuples(st.integers(0, 40_000_000), st.sets(st.sampled_from("abcdefgh"), max_size=4)), max_size=60),
    st.integers(1, 5),
)
def test_distinct_never_admits_more_than_its_limit_in_the_window(plan: list[tuple[int, set[str]]], limit: int) -> None:
    distinct = Distinct(limit, 60.0)
    now, state, sightings = T0, None, []
    for advance, members in plan:
        now += advance
        ordered = tuple(sorted(members))
        if distinct.check(state, now, distinct.fresh(state, now, ordered)) == 0:
            state = distinct.consume(state, now, ordered) if ordered else state
            sightings += [(now, m) for m in ordered]
        live = {m for at, m in sightings if at > now - 60 * US}
        assert len(live) <= limit
        assert distinct.view(state, now)[0] == limit - len(live)


# --- Counter and Penalty --------------------------------------------------------------------------------


def test_counter_counts_until_its_ttl_from_first_use() -> None:
    counter = Counter(3, 30.0)
    state = counter.consume(None, T0, 2)
    state = counter.consume(state, T0 + 10 * US, 1)
    assert counter.check(state, T0 + 20 * US, 1) == 10 * US
    assert counter.view(state, T0 + 20 * US) == (0, 10 * US)
    assert counter.check(state, T0 + 30 * US, 3) == 0
    assert counter.check(state, T0, 4) == 30 * US
    assert counter.consume(state, T0 + 30 * US, 1) == [T0 + 60 * US, 1]


def test_penalty_blocks_after_strikes_within_its_period_only() -> None:
    penalty = Penalty(3, 10.0, 60.0)
    state = None
    for at in (0, 6, 12):  # three strikes, but never three within 10 s
        state = penalty.strike(state, T0 + at * US)
        assert Penalty.blocked(state, T0 + at * US) == 0
    state = penalty.strike(state, T0 + 13 * US)  # 6, 12, 13: within 10 s
    assert Penalty.blocked(state, T0 + 13 * US) == 60 * US
    assert Penalty.blocked(state, T0 + 73 * US) == 0
    assert state == [T0 + 73 * US, T0 + 73 * US]  # strikes forgotten once blocked
