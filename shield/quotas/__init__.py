"""The quota engine: specs, their math, and the stores that keep the counts.

Nothing here knows ASGI: the middleware turns a request into :class:`Charge` objects and asks a
:class:`QuotaStore` for one atomic, all-or-nothing :class:`Decision`.

>>> store = MemoryStore()
>>> charge = Charge("q:list-rate:user:42", Rate(limit=10, window=1.0))
>>> store.decide_now([charge]).allowed
True

``RedisStore`` shares counts between workers (``pip install 'asgi-shield[redis]'``; redis-py is
imported only when a RedisStore is built) and ``ResilientStore`` keeps deciding when it is down.
See ``docs/quotas.md`` for the algorithms, guarantees, Redis key layout and outage behaviour.
"""

from __future__ import annotations

from shield.quotas.limits import Budget, Counter, Distinct, Quota, Rate
from shield.quotas.memory import MemoryStore
from shield.quotas.redis import RedisStore
from shield.quotas.resilient import ResilientStore
from shield.quotas.store import (
    Charge,
    Decision,
    MissingBackend,
    Outcome,
    Penalty,
    QuotaStore,
    StoreUnavailable,
)

__all__ = [
    "Budget",
    "Charge",
    "Counter",
    "Decision",
    "Distinct",
    "MemoryStore",
    "MissingBackend",
    "Outcome",
    "Penalty",
    "Quota",
    "QuotaStore",
    "Rate",
    "RedisStore",
    "ResilientStore",
    "StoreUnavailable",
]
