"""ResilientStore against real outages: a closed port, a killed server, a frozen one, a refusing one.

Each test that needs a server it can break starts its own ``redis-server`` on a free loopback
port (no persistence) and kills it at the end; nothing here mocks Redis. The ResilientStore's
"down for retry_after seconds" is read from a FrozenClock, so recovery needs no sleeping.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from clocks import FrozenClock
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from servers import RedisServer

from shield.quotas import Charge, MemoryStore, Penalty, Rate, RedisStore, ResilientStore, StoreUnavailable

pytestmark = pytest.mark.anyio

RATE = Rate(2, 60.0)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    if server.process is not None:
        server.signal(signal.SIGCONT)
    server.kill()


@pytest.fixture
async def resilient(server: RedisServer) -> AsyncIterator[tuple[ResilientStore, FrozenClock]]:
    clock = FrozenClock()
    store = ResilientStore(RedisStore(url=server.url), MemoryStore(clock=clock), timeout=0.1, clock=clock)
    yield store, clock
    await store.aclose()


async def test_an_unreachable_primary_is_answered_by_the_fallback_marked_degraded() -> None:
    clock = FrozenClock()
    store = ResilientStore(RedisStore(url="redis://127.0.0.1:1/0"), MemoryStore(clock=clock), clock=clock)
    first = await store.decide([Charge("k", RATE)])
    assert first.allowed
    assert first.degraded
    assert store.degraded
    assert store.failures == 1
    assert (await store.decide([Charge("k", RATE)])).allowed
    third = await store.decide([Charge("k", RATE)])
    assert not third.allowed  # the fallback really counts: a bounded outage, not a free-for-all
    assert third.degraded
    assert store.failures == 1  # while down, the primary is not even tried
    clock.advance(1.0)
    assert (await store.decide([Charge("k", RATE)])).degraded
    assert store.failures == 2  # after retry_after, one probe (which failed again)
    await store.aclose()


async def test_a_killed_server_fails_over_and_the_store_recovers_when_it_returns(
    server: RedisServer, resilient: tuple[ResilientStore, FrozenClock]
) -> None:
    store, clock = resilient
    healthy = await store.decide([Charge("k", RATE)])
    assert healthy.allowed
    assert not healthy.degraded
    server.kill()
    down = await store.decide([Charge("k", RATE)])
    assert down.degraded
    assert down.allowed
    server.start()  # same port, empty memory
    assert (await store.decide([Charge("k", RATE)])).degraded  # still inside retry_after
    clock.advance(1.0)
    back = await store.decide([Charge("k", RATE)])
    assert not back.degraded
    assert not store.degraded
    assert back.outcomes[0].remaining == 1  # the restarted server's count: outage usage is not replayed


async def test_a_frozen_server_times_out_and_only_one_probe_waits_for_it(
    server: RedisServer, resilient: tuple[ResilientStore, FrozenClock]
) -> None:
    store, clock = resilient
    assert not (await store.decide([Charge("k", RATE)])).degraded
    server.signal(signal.SIGSTOP)
    started = time.monotonic()
    stalled = await store.decide([Charge("k", RATE)])
    assert stalled.degraded
    assert isinstance(store.last_error, TimeoutError)
    assert time.monotonic() - started < 1.0  # the 0.1 s timeout, not redis-py's 5 s socket timeout
    clock.advance(1.0)
    started = time.monotonic()
    burst = await asyncio.gather(*(store.decide([Charge(f"k{i}", RATE)]) for i in range(8)))
    assert all(d.degraded and d.allowed for d in burst)
    assert store.failures == 2  # one probe for the whole burst; the rest went straight to the fallback
    assert time.monotonic() - started < 1.0
    server.signal(signal.SIGCONT)
    clock.advance(1.0)
    assert not (await store.decide([Charge("k", RATE)])).degraded


async def test_a_server_refusing_writes_counts_as_an_outage(
    server: RedisServer, resilient: tuple[ResilientStore, FrozenClock]
) -> None:
    store, clock = resilient
    admin = Redis.from_url(server.url)
    assert not (await store.decide([Charge("k", RATE)])).degraded
    await admin.config_set("maxmemory", "1")  # every script that may write now gets an OOM error reply
    try:
        full = await store.decide([Charge("k", RATE)])
        assert full.degraded
        assert isinstance(store.last_error, StoreUnavailable)
        assert isinstance(store.last_error.__cause__, ResponseError)
    finally:
        await admin.config_set("maxmemory", "0")
    clock.advance(1.0)
    assert not (await store.decide([Charge("k", RATE)])).degraded
    await admin.aclose()


async def test_programming_errors_are_raised_not_swallowed(resilient: tuple[ResilientStore, FrozenClock]) -> None:
    store, _ = resilient
    with pytest.raises(ValueError, match="twice"):
        await store.decide([Charge("k", RATE), Charge("k", Rate(9, 1.0))])
    with pytest.raises(ValueError, match="penalty"):
        await store.decide([Charge("k", RATE)], penalty=Penalty(1, 1.0, 1.0))
    assert not store.degraded
    for bad in ({"timeout": 0}, {"retry_after": -1.0}, {"timeout": True}):
        with pytest.raises(ValueError, match="ResilientStore"):
            ResilientStore(MemoryStore(), MemoryStore(), **bad)


async def test_penalties_keep_working_in_degraded_mode() -> None:
    clock = FrozenClock()
    store = ResilientStore(RedisStore(url="redis://127.0.0.1:1/0"), MemoryStore(clock=clock), clock=clock)
    penalty = Penalty(strikes=1, within=10.0, block=30.0)
    await store.decide([Charge("k", Rate(1, 60.0))], penalty=penalty, penalty_key="who")
    refused = await store.decide([Charge("k", Rate(1, 60.0))], penalty=penalty, penalty_key="who")
    assert refused.degraded
    assert refused.blocked_for == 30.0
    await store.aclose()
