"""RedisStore: quota state shared by every worker, one round trip per decision.

The whole decision is one Lua script (``decide.lua``, shipped as package data): Redis runs it
atomically, so workers racing on one key can never over-admit, and all-or-nothing needs no
locks or retries. The script is called by its SHA1 with EVALSHA; when the server does not know
it (first use, restart, SCRIPT FLUSH, failover) the store sends it once with EVAL, which runs it
and caches it again on the node that holds the keys (on Redis Cluster, EVAL is routed by its keys
just like EVALSHA, so the script always reaches the node that owns the slot).

Time is the server's ``TIME``, read inside the script: workers' clocks never matter. (Redis 7
replicates a script's effects, not the script, so reading TIME before writing is allowed; on
Redis 5 and 6 the script asks for effects replication itself. ZMSCORE needs Redis >= 6.2.)

Keys are ``{prefix}:{{hash_tag}}:{kind}:{caller's key}``, e.g.
``shield:{shield}:r:q:list-rate:user:3fa2…``, kinds ``r`` Rate (a string: the TAT), ``b``
Budget (a hash slot -> units), ``d`` Distinct (a sorted set member -> last seen), ``h``
approximate Distinct (``…:h:<key>:<slot>``, one HyperLogLog per slot), ``c`` Counter (a hash),
``s`` penalty strikes (a list) and ``x`` penalty block (a string). Every key has a PEXPIRE, so
idle keys vanish by themselves. The hash tag puts every key in one Redis Cluster slot (a
multi-key script requires it): see the docs for sharding with several tags.

On Redis Cluster (a ``redis.asyncio.cluster.RedisCluster`` client, or ``cluster=True``) every
decision of one store goes to the one primary that owns its slot. redis-py's cluster client has no
blocking pool (past ``max_connections`` per node it raises), so the store itself queues decisions
beyond ``max_connections`` in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Sequence
from functools import lru_cache
from importlib.resources import files
from typing import TYPE_CHECKING

from shield.clock import Clock
from shield.quotas.limits import Budget, Counter, Distinct, Quota, Rate
from shield.quotas.store import (
    Charge,
    Decision,
    MissingBackend,
    Outcome,
    Penalty,
    StoreUnavailable,
    check_penalty_args,
    make_decision,
    make_outcome,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

__all__ = ["SCRIPT", "RedisStore"]

SCRIPT = files("shield.quotas").joinpath("decide.lua").read_bytes()
_SOURCE = SCRIPT.decode()
_SHA = hashlib.sha1(SCRIPT, usedforsecurity=False).hexdigest()
_US = 1_000_000


@lru_cache(maxsize=4096)
def _encode(spec: Quota) -> tuple[str, int, int, int, int]:
    """The script's view of a spec: its kind and four integer parameters."""
    if isinstance(spec, Rate):
        return "r", spec._t, spec._tol, spec._cap, spec._window_us
    if isinstance(spec, Budget):
        return "b", spec._w, spec.slots, spec.limit, spec._window_us
    if isinstance(spec, Distinct):
        if spec.approximate:
            return "h", spec._w, spec.slots, spec.limit, spec._window_us
        return "d", spec._window_us, spec.limit, 0, 0
    if isinstance(spec, Counter):
        return "c", spec._ttl_us, spec.limit, 0, 0
    raise TypeError(f"not a quota spec: {spec!r}")  # pragma: no cover -- Charge validates


class RedisStore:
    """Shared :class:`~shield.quotas.store.QuotaStore` on Redis (``pip install 'asgi-shield[redis]'``).

    Pass your own client, ``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster`` (it
    is used as it is, and it is yours to close), or a ``url``: the store then owns a client and
    closes it in :meth:`aclose`, a ``Redis`` with a blocking pool of ``max_connections``, or with
    ``cluster=True`` a ``RedisCluster`` discovered from that node, with ``max_connections`` per
    node. Give a ``Redis`` of your own a ``BlockingConnectionPool``: redis-py's default pool fails
    requests beyond its ``max_connections``. On a cluster the store queues decisions beyond
    ``max_connections`` itself, so give a ``RedisCluster`` of your own at least that many
    connections per node (redis-py's default, 100, is more than the store's 64).
    ``clock_from_client_for_tests`` replaces Redis TIME with a worker clock so tests can move
    time by hand; never use it in production, where workers' clocks disagree.

    >>> store = RedisStore(url="redis://127.0.0.1:6379/0", prefix="myapp")  # doctest: +SKIP
    >>> shared = RedisStore(url="redis://10.0.0.5:7000", cluster=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        client: Redis | RedisCluster | None = None,
        *,
        url: str = "redis://127.0.0.1:6379/0",
        cluster: bool = False,
        prefix: str = "shield",
        hash_tag: str = "shield",
        max_connections: int = 64,
        clock_from_client_for_tests: Clock | None = None,
    ) -> None:
        try:
            from redis import asyncio as aioredis  # noqa: PLC0415 -- optional backend, imported on use
            from redis.asyncio.cluster import RedisCluster  # noqa: PLC0415
            from redis.exceptions import NoScriptError, RedisClusterException, RedisError  # noqa: PLC0415
        except ImportError as exc:
            raise MissingBackend("RedisStore needs redis-py: pip install 'asgi-shield[redis]'") from exc
        if not prefix or not hash_tag or any(c in prefix + hash_tag for c in "{}"):
            # Redis hashes the first {...} of a key: a brace in the prefix would steal the tag.
            raise ValueError("RedisStore needs a non-empty prefix and hash_tag, neither with braces")
        if max_connections < 1:
            raise ValueError("RedisStore needs max_connections >= 1")
        self._owns_client = client is None
        if client is None and cluster:
            try:
                client = RedisCluster.from_url(url, max_connections=max_connections)
            except RedisClusterException as exc:  # e.g. a database other than 0, a unix socket
                raise ValueError(f"RedisStore cannot use this url for a Redis Cluster: {exc}") from exc
        elif client is None:
            # A blocking pool: a burst beyond max_connections waits for a connection (bounded by
            # ResilientStore's timeout) instead of failing with "Too many connections".
            pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections)
            client = aioredis.Redis.from_pool(pool)
        self._client: Redis | RedisCluster = client
        self._cluster = client if isinstance(client, RedisCluster) else None
        # A cluster client raises MaxConnectionsError past its per-node limit instead of waiting,
        # and all of this store's keys live on one node: decisions beyond the limit wait here.
        self._in_flight: contextlib.AbstractAsyncContextManager[None] = (
            asyncio.Semaphore(max_connections) if self._cluster is not None else contextlib.nullcontext()
        )
        self._namespace = f"{prefix}:{{{hash_tag}}}:"
        self._test_clock = clock_from_client_for_tests
        self._no_script: type[Exception] = NoScriptError
        # RedisClusterException ("cannot be connected", "slot not covered") is not a RedisError.
        self._unavailable: tuple[type[Exception], ...] = (RedisError, RedisClusterException, OSError)

    def key(self, kind: str, key: str) -> str:
        """The Redis key of a caller's ``key`` for quotas of ``kind`` (see the module docstring)."""
        return f"{self._namespace}{kind}:{key}"

    async def decide(
        self, charges: Sequence[Charge], *, penalty: Penalty | None = None, penalty_key: str | None = None
    ) -> Decision:
        """Weigh every charge atomically, all or nothing (see :mod:`shield.quotas.store`).

        Raises :class:`~shield.quotas.store.StoreUnavailable` when Redis cannot answer.
        """
        check_penalty_args(penalty, penalty_key)
        keys: list[str] = []
        head: list[str | int] = ["-" if self._test_clock is None else int(self._test_clock() * _US), len(charges)]
        if penalty is not None and penalty_key is not None:
            head += (1, penalty.strikes, penalty._within_us, penalty._block_us)
        else:
            head += (0, 0, 0, 0)
        members: list[str] = []
        for charge in charges:
            kind, a, b, c, d = _encode(charge.spec)
            key = self.key(kind, charge.key)
            if key in keys:
                raise ValueError(f"one decision charges {charge.key!r} twice for the same kind of quota")
            keys.append(key)
            unique = dict.fromkeys(charge.members)
            members += unique
            flags = (1 if charge.enforce else 0) | (2 if charge.peek else 0)
            head += (kind, flags, charge.cost, a, b, c, d, len(unique))
        if penalty_key is not None:
            keys += (self.key("s", penalty_key), self.key("x", penalty_key))
        reply = await self._run(keys, [" ".join(map(str, head)), *members])
        outcomes: list[Outcome] = []
        for i, charge in enumerate(charges):
            fits, remaining, reset, retry = reply[4 + 4 * i : 8 + 4 * i]
            outcomes.append(make_outcome(fits == 1, charge.spec.limit, remaining, reset / _US, retry / _US))
        refused_by = reply[2] if reply[2] >= 0 else None
        return make_decision(reply[1] == 1, tuple(outcomes), refused_by, reply[0] / _US, blocked_for=reply[3] / _US)

    async def _run(self, keys: list[str], args: list[str]) -> list[int]:
        """EVALSHA; EVAL (which caches the script again) when the server does not know it."""
        try:
            async with self._in_flight:
                if self._cluster is not None:
                    # An async cluster client must know the slot map before it is used
                    # concurrently: concurrent first commands race inside redis-py (seen with 8.1:
                    # AttributeError on a half-open connection). Once it is known, a no-op.
                    await self._cluster.initialize()
                try:
                    reply = await self._client.evalsha(_SHA, len(keys), *keys, *args)
                except self._no_script:
                    # EVAL is routed like EVALSHA (on a cluster: by its keys' slot), so the script
                    # reaches the very node that missed it. Both run the same atomic script once.
                    reply = await self._client.eval(_SOURCE, len(keys), *keys, *args)
        except self._unavailable as exc:
            raise StoreUnavailable(f"redis did not answer the quota decision: {exc}") from exc
        return [int(x) for x in reply.split()]

    async def aclose(self) -> None:
        """Close the client if this store created it (a client passed in stays the caller's)."""
        if self._owns_client:
            await self._client.aclose()
