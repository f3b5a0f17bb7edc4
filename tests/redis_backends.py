"""The Redis servers the tests run quota stores on: the machine's one, and the session's cluster.

Shared by the store conformance suite, the quota middleware tests and the detector tests, so
every test that runs on Redis runs on a Redis Cluster too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from clocks import FrozenClock
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster

from shield.quotas import RedisStore

REDIS_URL = "redis://127.0.0.1:6379/0"
BACKENDS = ("redis", "cluster")  # the single server, and the session's Redis Cluster
AnyRedis = Redis | RedisCluster


@dataclass(frozen=True)
class Backend:
    """Where a Redis test runs: ``redis`` (one server) or ``cluster`` (three primaries)."""

    name: str
    url: str

    @property
    def cluster(self) -> bool:
        return self.name == "cluster"

    def client(self) -> AnyRedis:
        """A client the test owns (a cluster client discovers the other nodes from this one)."""
        if self.cluster:
            return RedisCluster.from_url(self.url)
        return Redis.from_pool(BlockingConnectionPool.from_url(self.url, max_connections=32))


def backend_named(request: pytest.FixtureRequest, name: str) -> Backend:
    """The backend ``name``; the cluster is started on first use, once per session."""
    if name == "cluster":
        return Backend(name, request.getfixturevalue("redis_cluster").url)
    return Backend(name, REDIS_URL)


def fresh_prefix() -> str:
    return f"shield-test-{uuid.uuid4().hex[:12]}"


async def purge(client: AnyRedis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await client.delete(*keys)  # one hash tag: on a cluster too, one slot


@asynccontextmanager
async def redis_store(
    request: pytest.FixtureRequest, name: str, clock: FrozenClock, prefix: str | None = None
) -> AsyncIterator[RedisStore]:
    """A store on backend ``name`` under a prefix of its own, moved by ``clock``; emptied and closed after."""
    client = backend_named(request, name).client()
    prefix = prefix or fresh_prefix()
    try:
        yield RedisStore(client, prefix=prefix, clock_from_client_for_tests=clock)
    finally:
        await purge(client, prefix)
        await client.aclose()
