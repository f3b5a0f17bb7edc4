"""One conformance suite for every quota store: the same expectations for memory and Redis.

Redis means two backends, and every Redis test runs on both: the single server at
127.0.0.1:6379 and a real three-primary Redis Cluster that conftest starts once per session on
free loopback ports (``redis_cluster``). A last section holds what only a cluster can show:
where the keys land, script reloads on every node, connection limits, and ``redis_cluster =
true`` in a policy.

Time: the memory store reads a FrozenClock; the Redis store reads the same clock through
``clock_from_client_for_tests`` (the value goes to the script in place of TIME), so tests move
time by hand and never sleep, and the two stores can be compared decision by decision. The few
tests that must prove Redis TIME itself is used (and that keys really expire) use real time,
short windows and bounded waits. Every Redis test works under its own key prefix and deletes
it afterwards.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import math
import sys
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from asgi_client import client_for
from clocks import FrozenClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio.cluster import RedisCluster
from redis_backends import BACKENDS, AnyRedis, Backend, backend_named, fresh_prefix, purge, redis_store
from servers import RedisClusterServers
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shield import Policy, ShieldMiddleware
from shield.clock import system_clock
from shield.quota_gate import build_store
from shield.quotas import (
    Budget,
    Charge,
    Counter,
    Decision,
    Distinct,
    MemoryStore,
    MissingBackend,
    Penalty,
    Quota,
    QuotaStore,
    Rate,
    RedisStore,
    ResilientStore,
    StoreUnavailable,
)
from shield.quotas.limits import to_us
from shield.quotas.redis import SCRIPT

pytestmark = pytest.mark.anyio

T0 = 1_700_000_000.0  # a multiple of every slot width used below
shared_fixture = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Harness:
    """A store, the clock it reads, and a shortcut for deciding."""

    name: str
    store: QuotaStore
    clock: FrozenClock

    async def decide(self, *charges: Charge, penalty: Penalty | None = None, key: str | None = None) -> Decision:
        return await self.store.decide(charges, penalty=penalty, penalty_key=key)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    return backend_named(request, request.param)


@pytest.fixture
async def redis_client(backend: Backend) -> AsyncIterator[AnyRedis]:
    client = backend.client()
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return fresh_prefix()


@pytest.fixture(params=["memory", *BACKENDS])
async def harness(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[Harness]:
    clock = FrozenClock(T0)
    if request.param == "memory":
        yield Harness("memory", MemoryStore(clock=clock), clock)
        return
    async with redis_store(request, request.param, clock, prefix) as store:
        yield Harness(request.param, store, clock)


def fresh() -> str:
    """A key no other example used: hypothesis examples share one store."""
    return uuid.uuid4().hex


# --- each kind of quota ------------------------------------------------------------------------------


async def test_rate_admits_its_burst_then_refuses_until_the_next_interval(harness: Harness) -> None:
    rate = Rate(5, 10.0)
    for left in range(4, -1, -1):
        decision = await harness.decide(Charge("k", rate))
        assert decision.allowed
        assert decision.outcomes[0].remaining == left
        assert decision.outcomes[0].reset_after == pytest.approx((5 - left) * 2.0)
    refused = await harness.decide(Charge("k", rate))
    assert not refused.allowed
    assert refused.refused_by == 0
    assert refused.outcomes[0].retry_after == pytest.approx(2.0)
    assert refused.outcomes[0].remaining == 0
    harness.clock.advance(2.0)
    assert (await harness.decide(Charge("k", rate))).allowed
    never = await harness.decide(Charge("other", rate, cost=6))
    assert not never.allowed
    assert never.outcomes[0].retry_after == 10.0  # a cost above the burst never fits: the window


async def test_budget_counts_the_oldest_slot_whole(harness: Harness) -> None:
    budget = Budget(10, 60.0, slots=6)
    assert (await harness.decide(Charge("k", budget, cost=4))).allowed
    harness.clock.advance(15)
    assert (await harness.decide(Charge("k", budget, cost=4))).allowed
    harness.clock.advance(5)
    refused = await harness.decide(Charge("k", budget, cost=3))
    assert not refused.allowed
    assert refused.outcomes[0].retry_after == pytest.approx(50.0)
    assert refused.outcomes[0].remaining == 2
    assert refused.outcomes[0].reset_after == pytest.approx(60.0)
    harness.clock.advance(45)  # T0 + 65: the first slot is half out of the window, but still counts
    assert not (await harness.decide(Charge("k", budget, cost=3))).allowed
    harness.clock.advance(5)
    admitted = await harness.decide(Charge("k", budget, cost=3))
    assert admitted.allowed
    assert admitted.outcomes[0].remaining == 3


async def test_distinct_charges_new_members_only(harness: Harness) -> None:
    distinct = Distinct(3, 60.0)
    first = await harness.decide(Charge("k", distinct, members=("a", "b", "a")))
    assert first.allowed
    assert first.outcomes[0].remaining == 1
    assert (await harness.decide(Charge("k", distinct, members=("a", "b")))).outcomes[0].remaining == 1
    harness.clock.advance(10)
    assert (await harness.decide(Charge("k", distinct, members=("a",)))).allowed  # refreshes a
    refused = await harness.decide(Charge("k", distinct, members=("c", "d")))
    assert not refused.allowed
    assert refused.outcomes[0].retry_after == pytest.approx(50.0)  # b, seen at T0, leaves at T0 + 60
    assert refused.outcomes[0].remaining == 1
    harness.clock.advance(50)
    admitted = await harness.decide(Charge("k", distinct, members=("c", "d")))
    assert admitted.allowed
    assert admitted.outcomes[0].remaining == 0
    assert admitted.outcomes[0].reset_after == 60.0
    assert (await harness.decide(Charge("k", distinct))).allowed  # no members: costs nothing


@pytest.mark.parametrize("approximate", [False, True])
async def test_distinct_takes_thousands_of_members_in_one_charge(harness: Harness, approximate: bool) -> None:
    distinct = Distinct(10_000, 60.0, approximate=approximate)
    page = tuple(f"record-{i}" for i in range(6000))
    first = await harness.decide(Charge("k", distinct, members=page))
    assert first.allowed
    if approximate and harness.name != "memory":
        assert 3900 <= first.outcomes[0].remaining <= 4100  # HyperLogLog's estimate
    else:
        assert first.outcomes[0].remaining == 4000  # exact (memory is always exact)
    assert (await harness.decide(Charge("k", distinct, members=page))).allowed  # all seen: free
    refused = await harness.decide(Charge("k", distinct, members=tuple(f"other-{i}" for i in range(5000))))
    assert not refused.allowed


async def test_counter_expires_ttl_after_first_use(harness: Harness) -> None:
    counter = Counter(3, 30.0)
    for left in (2, 1, 0):
        decision = await harness.decide(Charge("token", counter))
        assert decision.allowed
        assert decision.outcomes[0].remaining == left
        harness.clock.advance(5)
    refused = await harness.decide(Charge("token", counter))
    assert not refused.allowed
    assert refused.outcomes[0].retry_after == pytest.approx(15.0)
    harness.clock.advance(15)
    again = await harness.decide(Charge("token", counter, cost=2))
    assert again.allowed
    assert again.outcomes[0].remaining == 1
    assert again.outcomes[0].reset_after == 30.0


# --- the decision: all or nothing, peek, shadow, penalty ------------------------------------------------


async def test_a_refused_decision_consumes_nothing(harness: Harness) -> None:
    rate, budget = Rate(10, 10.0), Budget(5, 60.0)
    assert (await harness.decide(Charge("k", budget, cost=5))).allowed
    refused = await harness.decide(Charge("k", rate), Charge("k", budget), Charge("s", rate, enforce=False))
    assert not refused.allowed
    assert refused.refused_by == 1
    assert [o.allowed for o in refused.outcomes] == [True, False, True]
    assert [o.remaining for o in refused.outcomes] == [10, 0, 10]  # nothing taken, not even the shadow
    assert (await harness.decide(Charge("k", rate, cost=10), Charge("s", rate, cost=10))).allowed


async def test_peek_consumes_nothing_but_refuses_when_it_would_not_fit(harness: Harness) -> None:
    budget = Budget(100, 3600.0)
    for _ in range(3):
        peek = await harness.decide(Charge("k", budget, cost=60, peek=True))
        assert peek.allowed
        assert peek.outcomes[0].remaining == 100
    assert (await harness.decide(Charge("k", budget, cost=60))).allowed
    refused = await harness.decide(Charge("k", budget, cost=60, peek=True))
    assert not refused.allowed
    assert refused.outcomes[0].remaining == 40
    assert refused.outcomes[0].retry_after > 0


async def test_shadow_charges_never_refuse_and_are_taken_only_when_they_fit(harness: Harness) -> None:
    rate = Rate(2, 10.0)
    for remaining in (1, 0, 0, 0):
        decision = await harness.decide(Charge("k", rate, enforce=False))
        assert decision.allowed
        assert decision.refused_by is None
        assert decision.outcomes[0].remaining == remaining
    assert not decision.outcomes[0].allowed  # reported as over its limit...
    assert decision.outcomes[0].retry_after == pytest.approx(5.0)  # ...and nothing was taken on top
    harness.clock.advance(5)
    assert (await harness.decide(Charge("k", rate))).allowed


async def test_the_first_enforced_refusal_is_the_one_reported(harness: Harness) -> None:
    full = Rate(1, 60.0)
    await harness.decide(Charge("a", full), Charge("b", full))
    decision = await harness.decide(Charge("a", full, enforce=False), Charge("b", full), Charge("c", full))
    assert decision.refused_by == 1
    assert [o.allowed for o in decision.outcomes] == [False, False, True]


async def test_penalty_blocks_after_strikes_and_releases_after_the_block(harness: Harness) -> None:
    rate, penalty = Rate(1, 60.0), Penalty(strikes=3, within=10.0, block=30.0)
    assert (await harness.decide(Charge("k", rate), penalty=penalty, key="who")).allowed
    for strike in range(3):
        harness.clock.advance(1)
        refused = await harness.decide(Charge("k", rate), penalty=penalty, key="who")
        assert refused.refused_by == 0
        assert refused.blocked_for == (30.0 if strike == 2 else 0.0)
    harness.clock.advance(20)
    other = Rate(100, 1.0)
    blocked = await harness.decide(Charge("fresh", other), penalty=penalty, key="who")
    assert not blocked.allowed
    assert blocked.refused_by is None
    assert blocked.blocked_for == pytest.approx(10.0)
    assert blocked.outcomes[0].allowed  # it would fit, yet nothing is taken during a block
    assert blocked.outcomes[0].remaining == 100
    assert (await harness.decide(Charge("fresh", other), penalty=penalty, key="someone else")).allowed
    harness.clock.advance(10)
    released = await harness.decide(Charge("fresh", other), penalty=penalty, key="who")
    assert released.allowed
    assert released.blocked_for == 0.0
    assert released.outcomes[0].remaining == 99


async def test_strikes_spread_wider_than_within_never_block(harness: Harness) -> None:
    rate, penalty = Rate(1, 3600.0), Penalty(strikes=2, within=5.0, block=30.0)
    await harness.decide(Charge("k", rate))
    for _ in range(4):
        harness.clock.advance(6)
        decision = await harness.decide(Charge("k", rate), penalty=penalty, key="who")
        assert decision.refused_by == 0
        assert decision.blocked_for == 0.0


async def test_decisions_report_the_store_time_and_allow_no_charges(harness: Harness) -> None:
    decision = await harness.decide()
    assert decision == Decision(True, (), None, T0)
    harness.clock.advance(1.5)
    assert (await harness.decide(Charge("k", Rate(1, 1.0)))).now == T0 + 1.5


async def test_programming_errors_raise_value_errors(harness: Harness) -> None:
    with pytest.raises(ValueError, match="twice"):
        await harness.decide(Charge("k", Rate(1, 1.0)), Charge("k", Rate(5, 1.0)))
    with pytest.raises(ValueError, match="penalty"):
        await harness.decide(Charge("k", Rate(1, 1.0)), penalty=Penalty(1, 1.0, 1.0))
    with pytest.raises(ValueError, match="penalty"):
        await harness.store.decide([Charge("k", Rate(1, 1.0))], penalty_key="who")
    both = await harness.decide(Charge("k", Rate(1, 1.0)), Charge("k", Budget(1, 1.0)))  # kinds differ: fine
    assert both.allowed


async def test_concurrent_decisions_on_one_key_admit_exactly_the_limit(harness: Harness) -> None:
    budget = Budget(50, 3600.0)
    decisions = await asyncio.gather(*(harness.decide(Charge("hot", budget)) for _ in range(200)))
    assert sum(d.allowed for d in decisions) == 50


# --- properties ---------------------------------------------------------------------------------------

plans = st.lists(
    st.tuples(
        st.integers(0, 4000),  # ms to advance
        st.integers(0, 4),  # Rate cost
        st.integers(0, 6),  # Budget cost
        st.booleans(),  # Budget enforced
        st.booleans(),  # Rate peeks
    ),
    min_size=1,
    max_size=40,
)


@shared_fixture
@given(plans)
async def test_no_store_ever_over_admits(harness: Harness, plan: list[tuple[int, int, int, bool, bool]]) -> None:
    rate, budget = Rate(4, 6.0, burst=3), Budget(10, 8.0, slots=4)
    interval, window_us = math.ceil(to_us(6.0) / 4), to_us(8.0)
    key = fresh()
    rate_log: list[tuple[int, int]] = []
    budget_log: list[tuple[int, int]] = []
    for advance, rate_cost, budget_cost, enforce, peek in plan:
        harness.clock.advance(advance / 1000)
        charges = (
            Charge(key, rate, cost=rate_cost, peek=peek),
            Charge(key, budget, cost=budget_cost, enforce=enforce),
        )
        decision = await harness.decide(*charges)
        now = round(decision.now * 1e6)
        assert now == int(harness.clock() * 1e6)
        if decision.allowed:
            if not peek and decision.outcomes[0].allowed:
                rate_log.append((now, rate_cost))
            if decision.outcomes[1].allowed:
                budget_log.append((now, budget_cost))
        else:
            again = await harness.decide(*charges)  # a refusal changed nothing
            assert again == decision
    for i, (start, _) in enumerate(rate_log):
        total = 0
        for at, cost in rate_log[i:]:
            total += cost
            assert total <= 3 + (at - start) / interval
    for end, _ in budget_log:
        assert sum(c for at, c in budget_log if end - window_us <= at <= end) <= 10


@shared_fixture
@given(st.lists(st.tuples(st.integers(0, 30), st.sets(st.sampled_from("abcdefg"), max_size=3)), max_size=30))
async def test_distinct_never_admits_more_members_than_its_limit(
    harness: Harness, plan: list[tuple[int, set[str]]]
) -> None:
    distinct, key, seen = Distinct(3, 60.0), fresh(), []
    for advance, members in plan:
        harness.clock.advance(advance)
        decision = await harness.decide(Charge(key, distinct, members=tuple(sorted(members))))
        if decision.allowed:
            seen += [(decision.now, m) for m in members]
        live = {m for at, m in seen if at > decision.now - 60.0}
        assert len(live) <= 3
        assert decision.outcomes[0].remaining == 3 - len(live)


# --- memory and Redis agree decision by decision ----------------------------------------------------------

SPECS = (Rate(3, 10.0), Rate(5, 10.0, burst=2), Budget(6, 30.0, slots=3), Distinct(3, 20.0), Counter(4, 15.0))
steps = st.lists(
    st.tuples(
        st.integers(0, 12_000),
        st.lists(
            st.tuples(
                st.integers(0, len(SPECS) - 1),
                st.sampled_from("ab"),
                st.integers(0, 4),
                st.sets(st.sampled_from("wxyz"), max_size=3),
                st.booleans(),
                st.booleans(),
            ),
            max_size=4,
            unique_by=lambda c: c[0],
        ),
        st.booleans(),
    ),
    min_size=1,
    max_size=25,
)


@shared_fixture
@given(steps)
async def test_memory_and_redis_make_the_same_decisions(
    redis_client: AnyRedis, prefix: str, plan: list[tuple[int, list[tuple[int, str, int, set[str], bool, bool]], bool]]
) -> None:
    clock = FrozenClock(T0)
    memory = MemoryStore(clock=clock)
    redis = RedisStore(redis_client, prefix=f"{prefix}:{fresh()}", clock_from_client_for_tests=clock)
    penalty = Penalty(strikes=2, within=30.0, block=20.0)
    for advance, picks, penalised in plan:
        clock.advance(advance / 1000)
        charges = [
            Charge(
                f"{index}:{key}",
                SPECS[index],
                cost=cost,
                members=tuple(sorted(members)) if isinstance(SPECS[index], Distinct) else (),
                enforce=enforce,
                peek=peek,
            )
            for index, key, cost, members, enforce, peek in picks
        ]
        options = {"penalty": penalty, "penalty_key": "who"} if penalised else {}
        assert await memory.decide(charges, **options) == await redis.decide(charges, **options)  # type: ignore[arg-type]
    await purge(redis_client, prefix)


# --- Redis only: real time, scripts, keys, approximation, failures --------------------------------------------


async def test_redis_time_is_the_servers_and_short_windows_really_expire(redis_client: AnyRedis, prefix: str) -> None:
    store = RedisStore(redis_client, prefix=prefix)
    rate, budget = Rate(2, 0.4), Budget(1, 0.2, slots=2)
    first = await store.decide([Charge("k", rate), Charge("k", budget)])
    assert first.allowed
    assert abs(first.now - time.time()) < 2.0
    second = await store.decide([Charge("k", rate)])
    assert second.allowed
    refused = await store.decide([Charge("k", rate), Charge("k", budget)])
    assert not refused.allowed
    wait = max(o.retry_after for o in refused.outcomes)
    assert 0 < wait <= 0.3
    await asyncio.sleep(wait + 0.01)
    assert (await store.decide([Charge("k", rate), Charge("k", budget)])).allowed
    await purge(redis_client, prefix)


async def test_redis_reloads_its_script_after_a_script_flush(redis_client: AnyRedis, prefix: str) -> None:
    store = RedisStore(redis_client, prefix=prefix)
    assert (await store.decide([Charge("k", Rate(3, 60.0))])).allowed
    await redis_client.script_flush()
    after = await store.decide([Charge("k", Rate(3, 60.0))])
    assert after.allowed
    assert after.outcomes[0].remaining == 1  # same state, same script: only the cache was lost
    await purge(redis_client, prefix)


async def test_redis_keys_share_one_hash_tag_and_all_expire(redis_client: AnyRedis, prefix: str) -> None:
    store = RedisStore(redis_client, prefix=prefix, hash_tag="route-a")
    rate = Rate(1, 60.0)
    await store.decide(
        [
            Charge("u", rate),
            Charge("u", Budget(10, 60.0)),
            Charge("u", Distinct(5, 60.0), members=("r1",)),
            Charge("v", Distinct(5, 60.0, approximate=True), members=("r1",)),
            Charge("t", Counter(2, 60.0)),
        ]
    )
    await store.decide([Charge("u", rate)], penalty=Penalty(1, 60.0, 60.0), penalty_key="who")
    keys = sorted([key.decode() async for key in redis_client.scan_iter(match=f"{prefix}:*")])
    tag = f"{prefix}:{{route-a}}:"
    slot = int(time.time() * 1e6) // math.ceil(to_us(60.0) / 12)
    expected = {f"{tag}r:u", f"{tag}b:u", f"{tag}d:u", f"{tag}c:t", f"{tag}x:who"}
    assert expected <= set(keys)
    approx = [key for key in keys if key.startswith(f"{tag}h:v:")]
    assert len(approx) == 1
    assert abs(int(approx[0].rsplit(":", 1)[1]) - slot) <= 1
    assert len(keys) == len(expected) + 1  # the strikes list went away when the block started
    for key in keys:
        assert 0 < await redis_client.pttl(key) <= 65_000  # a Budget slot lives window + one slot
    assert store.key("r", "u") == f"{tag}r:u"
    await purge(redis_client, prefix)


async def test_redis_approximate_distinct_lands_near_its_limit(redis_client: AnyRedis, prefix: str) -> None:
    store = RedisStore(redis_client, prefix=prefix)
    distinct = Distinct(200, 3600.0, approximate=True)
    first = await store.decide([Charge("k", distinct, members=tuple(f"rec-{i}" for i in range(150)))])
    assert first.allowed
    assert 145 <= 200 - first.outcomes[0].remaining <= 155
    admitted = 150
    for i in range(150, 300):
        admitted += (await store.decide([Charge("k", distinct, members=(f"rec-{i}",))])).allowed
    assert 190 <= admitted <= 210  # HyperLogLog: 0.81% standard error
    again = await store.decide([Charge("k", distinct, members=("rec-3", "rec-140"))])
    assert again.allowed  # members already seen cost nothing, even when full
    assert not (await store.decide([Charge("k", distinct, members=("brand-new", "and-another"))])).allowed
    await purge(redis_client, prefix)


@pytest.mark.parametrize("cluster", [False, True], ids=["redis", "cluster"])
async def test_redis_outage_raises_store_unavailable_with_the_cause(cluster: bool) -> None:
    store = RedisStore(url="redis://127.0.0.1:1/0", cluster=cluster)
    with pytest.raises(StoreUnavailable) as caught:
        await store.decide([Charge("k", Rate(1, 1.0))])
    assert caught.value.__cause__ is not None
    await store.aclose()


async def test_redis_closes_only_the_client_it_created(backend: Backend, redis_client: AnyRedis, prefix: str) -> None:
    await RedisStore(redis_client, prefix=prefix).aclose()
    assert await redis_client.ping()
    owned = RedisStore(url=backend.url, cluster=backend.cluster, prefix=prefix)
    assert (await owned.decide([Charge("k", Rate(1, 1.0))])).allowed
    await owned.aclose()
    del owned
    gc.collect()  # an unclosed connection would surface here as a ResourceWarning (an error)
    await purge(redis_client, prefix)


def test_redis_store_names_the_extra_when_redis_py_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # what "not installed" looks like to import
    with pytest.raises(MissingBackend, match=r"asgi-shield\[redis\]"):
        RedisStore()
    monkeypatch.undo()
    for bad in ({"hash_tag": "{x}"}, {"prefix": "a{b}"}, {"prefix": ""}):
        with pytest.raises(ValueError, match="braces"):
            RedisStore(**bad)


def test_redis_store_refuses_settings_it_cannot_honour() -> None:
    with pytest.raises(ValueError, match="db"):
        RedisStore(url="redis://127.0.0.1:6379/3", cluster=True)  # a cluster has only database 0
    with pytest.raises(ValueError, match="max_connections"):
        RedisStore(max_connections=0)


# --- Redis Cluster only: slots, script reloads on every node, connections, the policy key --------------------

SHA = hashlib.sha1(SCRIPT, usedforsecurity=False).hexdigest()


@pytest.fixture
async def cluster_client(redis_cluster: RedisClusterServers) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(redis_cluster.url)
    await client.initialize()  # the slot map, so the test can ask which node owns a key
    yield client
    await client.aclose()


def keys_by_port(cluster: RedisClusterServers, prefix: str) -> dict[int, set[str]]:
    """Each node's keys under ``prefix``, asked of the node itself (not routed by a client)."""
    found: dict[int, set[str]] = {}
    for node in cluster.nodes:
        with node.client(decode_responses=True) as client:
            found[node.port] = set(client.scan_iter(match=f"{prefix}:*", count=1000))
    return found


async def test_cluster_keys_of_one_decision_share_one_slot_on_the_node_that_owns_it(
    redis_cluster: RedisClusterServers, cluster_client: RedisCluster, prefix: str
) -> None:
    store = RedisStore(cluster_client, prefix=prefix)
    rate, penalty = Rate(1, 60.0), Penalty(strikes=2, within=60.0, block=60.0)
    first = await store.decide(
        [
            Charge("user:a", rate),
            Charge("user:a", Budget(10, 60.0)),
            Charge("ip:b", rate),
            Charge("key:c", Distinct(5, 60.0), members=("r1", "r2")),
            Charge("key:d", Distinct(5, 60.0, approximate=True), members=("r1",)),
            Charge("token:e", Counter(2, 60.0)),
        ],
        penalty=penalty,
        penalty_key="who",
    )
    assert first.allowed
    assert not (await store.decide([Charge("user:a", rate)], penalty=penalty, penalty_key="who")).allowed  # a strike
    for _ in range(2):  # two strikes for "bot": blocked (its strikes list gives way to the block)
        await store.decide([Charge("ip:b", rate)], penalty=penalty, penalty_key="bot")
    slot = cluster_client.keyslot(store.key("r", "user:a"))
    owner = cluster_client.get_node_from_key(store.key("r", "user:a"))
    found = keys_by_port(redis_cluster, prefix)
    keys = found.pop(owner.port)
    assert found == {port: set() for port in found}  # two other primaries, none of this store's keys
    expected = {store.key(k, key) for k, key in (("r", "user:a"), ("b", "user:a"), ("r", "ip:b"), ("d", "key:c"))}
    expected |= {store.key("c", "token:e"), store.key("s", "who"), store.key("x", "bot")}
    assert expected <= keys
    assert len(keys - expected) == 1  # the approximate Distinct's key, named inside the script
    assert next(iter(keys - expected)).startswith(store.key("h", "key:d:"))
    with redis_cluster.nodes[0].client() as node:
        assert {node.execute_command("CLUSTER KEYSLOT", key) for key in keys} == {slot}  # the server's own hash
    await purge(cluster_client, prefix)


async def test_cluster_stores_with_different_hash_tags_land_on_different_nodes(
    redis_cluster: RedisClusterServers, cluster_client: RedisCluster, prefix: str
) -> None:
    """Sharding by store: one tag is one slot, so several tags can spread over the primaries."""
    home = cluster_client.get_node_from_key("{shield}")
    other_tag = next(f"shard-{i}" for i in range(100) if cluster_client.get_node_from_key(f"{{shard-{i}}}") != home)
    stores = [RedisStore(cluster_client, prefix=prefix), RedisStore(cluster_client, prefix=prefix, hash_tag=other_tag)]
    for store in stores:
        assert (await store.decide([Charge("k", Rate(1, 60.0))])).allowed
        assert not (await store.decide([Charge("k", Rate(1, 60.0))])).allowed  # each store counts on its own
    found = keys_by_port(redis_cluster, prefix)
    assert found[home.port] == {stores[0].key("r", "k")}
    assert stores[1].key("r", "k") in set().union(*found.values()) - found[home.port]
    await purge(cluster_client, prefix)


async def test_cluster_reloads_its_script_on_the_owning_node_after_a_script_flush_on_every_node(
    redis_cluster: RedisClusterServers, cluster_client: RedisCluster, prefix: str
) -> None:
    store = RedisStore(cluster_client, prefix=prefix)
    assert (await store.decide([Charge("k", Rate(3, 60.0))])).allowed
    owner = cluster_client.get_node_from_key(store.key("r", "k"))
    for node in redis_cluster.nodes:
        with node.client() as client:
            assert client.script_flush()
            assert client.script_exists(SHA) == [False]
    after = await store.decide([Charge("k", Rate(3, 60.0))])
    assert after.allowed
    assert after.outcomes[0].remaining == 1  # same state, same script: only the cache was lost
    with next(node for node in redis_cluster.nodes if node.port == owner.port).client() as client:
        assert client.script_exists(SHA) == [True]  # the node that owns the slot knows it again
        evals = client.info("commandstats")["cmdstat_eval"]["calls"]
        assert (await store.decide([Charge("k", Rate(3, 60.0))])).outcomes[0].remaining == 0
        assert client.info("commandstats")["cmdstat_eval"]["calls"] == evals  # back to EVALSHA alone
    await purge(cluster_client, prefix)


async def test_cluster_store_queues_decisions_beyond_its_connections(
    redis_cluster: RedisClusterServers, prefix: str
) -> None:
    """redis-py's cluster client raises past max_connections per node; the store waits instead."""
    client = RedisCluster.from_url(redis_cluster.url, max_connections=4)
    store = RedisStore(client, prefix=prefix, max_connections=4)
    try:
        decisions = await asyncio.gather(*(store.decide([Charge("hot", Budget(50, 3600.0))]) for _ in range(200)))
        await purge(client, prefix)
    finally:
        await client.aclose()
    assert sum(d.allowed for d in decisions) == 50


async def test_cluster_store_takes_a_burst_on_a_client_that_has_not_met_the_cluster_yet(
    redis_cluster: RedisClusterServers, prefix: str
) -> None:
    """A cold redis-py cluster client used concurrently races inside redis-py; the store prevents it."""
    for _ in range(10):
        client = RedisCluster.from_url(redis_cluster.url)
        store = RedisStore(client, prefix=prefix)
        try:
            decisions = await asyncio.gather(*(store.decide([Charge(fresh(), Rate(1, 60.0))]) for _ in range(64)))
            await purge(client, prefix)
        finally:
            await client.aclose()
        assert all(d.allowed for d in decisions)


def cluster_policy(cluster: RedisClusterServers, prefix: str) -> Policy:
    return Policy.from_dict(
        {
            "quota": [{"name": "burst", "limit": 2, "window": 60, "routes": ["/items"]}],
            # A generous timeout: the first decision also discovers the cluster (CLUSTER SLOTS).
            "quotas": {
                "store": "redis",
                "redis_cluster": True,
                "redis_url": cluster.url,
                "redis_prefix": prefix,
                "redis_hash_tag": "shop",  # one app's own slot on a shared cluster
                "timeout": 5,
            },
            "secrets": {"hash_key": "0123456789abcdef0123"},
        }
    )


async def test_a_policy_with_redis_cluster_builds_a_store_on_the_cluster(
    redis_cluster: RedisClusterServers, cluster_client: RedisCluster, prefix: str
) -> None:
    policy = cluster_policy(redis_cluster, prefix)
    assert policy.quotas.redis_cluster
    assert not Policy.from_dict({}).quotas.redis_cluster  # off by default
    store = build_store(policy.quotas, system_clock)
    assert isinstance(store, ResilientStore)
    assert isinstance(store.primary, RedisStore)
    try:
        decision = await store.decide([Charge("k", Rate(1, 60.0))])
    finally:
        await store.aclose()
    assert decision.allowed
    assert not decision.degraded  # decided on the cluster, not by the local fallback
    key = store.primary.key("r", "k")
    assert key.startswith(f"{prefix}:{{shop}}:")
    assert await cluster_client.exists(key) == 1
    await purge(cluster_client, prefix)


async def test_the_middleware_counts_a_request_on_the_cluster_its_policy_names(
    cluster_client: RedisCluster, redis_cluster: RedisClusterServers, prefix: str
) -> None:
    async def items(request: Request) -> JSONResponse:
        return JSONResponse([{"id": 1}])

    app = ShieldMiddleware(Starlette(routes=[Route("/items", items)]), cluster_policy(redis_cluster, prefix))
    gate = app._quotas  # closed at lifespan shutdown, which this test does not send: it closes the store
    assert gate is not None
    try:
        async with client_for(app) as client:
            statuses = [(await client.get("/items", headers={"x-api-key": "k1"})).status_code for _ in range(3)]
    finally:
        await gate.store.aclose()
    assert statuses == [200, 200, 429]  # a failing cluster would answer 503 (outage = "closed")
    keys = [key.decode() async for key in cluster_client.scan_iter(match=f"{prefix}:{{shop}}:r:burst|*")]
    assert sorted(key.split("|")[2] for key in keys) == ["api_key", "network"]  # the Rates, in the cluster
    await purge(cluster_client, prefix)


# --- memory only: bounded keys, idle expiry, footprint ----------------------------------------------------


async def test_memory_never_holds_more_than_max_keys_and_evicts_the_least_recently_used() -> None:
    clock = FrozenClock(T0)
    store = MemoryStore(clock=clock, max_keys=100)
    rate = Rate(5, 3600.0)
    for i in range(1000):
        await store.decide([Charge(f"k{i}", rate), Charge("hot", rate, enforce=False)])
        assert len(store) <= 100
    assert len(store) == 100
    # "hot" was touched by every decision, so it survived; the oldest keys were forgotten (fail open).
    assert (await store.decide([Charge("hot", rate, enforce=False)])).outcomes[0].remaining == 0
    assert (await store.decide([Charge("k0", rate)])).outcomes[0].remaining == 4
    assert (await store.decide([Charge("k999", rate)])).outcomes[0].remaining == 3


async def test_memory_drops_idle_keys_as_decisions_go_by() -> None:
    clock = FrozenClock(T0)
    store = MemoryStore(clock=clock)
    specs: list[Quota] = [Rate(10, 1.0), Budget(10, 60.0), Distinct(10, 60.0), Counter(10, 60.0)]
    for i in range(200):
        spec = specs[i % 4]
        members = ("m",) if isinstance(spec, Distinct) else ()
        await store.decide([Charge(f"idle{i}", spec, members=members)], penalty=Penalty(1, 1.0, 1.0), penalty_key="p")
    assert len(store) == 200  # no refusal, so no penalty state
    clock.advance(3600)
    for _ in range(110):  # each decision sweeps two keys
        await store.decide([Charge("active", Rate(10, 1.0))])
    assert len(store) == 1
    with pytest.raises(ValueError, match="max_keys"):
        MemoryStore(max_keys=0)
    with pytest.raises(ValueError, match="sweep"):
        MemoryStore(sweep=0)
    await store.aclose()
    assert len(store) == 0


def test_memory_footprint_per_identity_stays_small() -> None:
    """One Rate and one Budget each for 20k identities: the figure docs/quotas.md extrapolates."""
    identities = 20_000
    store = MemoryStore(clock=FrozenClock(T0), max_keys=2 * identities)
    rate, budget = Rate(100, 60.0), Budget(10_000, 3600.0)
    digests = [hashlib.sha256(str(i).encode()).hexdigest()[:16] for i in range(identities)]
    requests = [
        [Charge(f"q:list-rate:user:{d}", rate), Charge(f"q:list-records:user:{d}", budget, cost=50)] for d in digests
    ]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for charges in requests:
            store.decide_now(charges)
        gc.collect()
        per_identity = (tracemalloc.get_traced_memory()[0] - before) / identities
    finally:
        tracemalloc.stop()
    assert len(store) == 2 * identities
    assert per_identity < 700, f"{per_identity:.0f} bytes per identity"
