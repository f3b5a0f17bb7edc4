"""Quotas for one request: which apply, what they charge, and what the client is told.

Before the app: every requests quota is charged one unit and every record budget is checked
(peeked) for at least one unit, in ONE atomic store decision. After the app, before a byte of
the body leaves: the response's records and distinct IDs are charged, again in one decision,
and if they do not fit the client gets a 429 instead of the records. See ``docs/quotas.md``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from shield.admission import route_pattern
from shield.clock import Clock, system_clock
from shield.monitor import Refusal
from shield.problems import Problem
from shield.pseudonyms import IdentityHasher
from shield.quota_policy import QuotaRule, QuotaSettings
from shield.quotas import Charge, Counter, Decision, MemoryStore, QuotaStore, RedisStore, ResilientStore
from shield.records import RecordTally, TallySpec
from shield.requester import IdentityKey, Requester

if TYPE_CHECKING:
    from shield.policy import Policy

__all__ = ["ActiveQuota", "QuotaGate", "Verdict", "build_store"]

logger = logging.getLogger("shield.quotas")
Headers = list[tuple[bytes, bytes]]
_ANONYMOUS = IdentityKey("anonymous", "")
_CHARGE_CACHE = 8192


@dataclass(frozen=True, slots=True)
class ActiveQuota:
    """A quota that applies to this request, and the route or group it counts for."""

    rule: QuotaRule
    scope: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """``problem`` is None when the request (or its records) may go; ``headers`` go out either way."""

    problem: Problem | None
    headers: Headers
    refusal: Refusal | None = None


_ALLOWED = Verdict(None, [])


class QuotaGate:
    """The policy's quotas compiled once; the store decides, atomically, per request."""

    __slots__ = ("_charges", "_hasher", "_rules", "settings", "store")

    def __init__(
        self, rules: Sequence[QuotaRule], settings: QuotaSettings, store: QuotaStore, hasher: IdentityHasher
    ) -> None:
        self.settings = settings
        self.store = store
        self._hasher = hasher
        self._charges: dict[str, Charge] = {}  # by store key, which names the quota
        self._rules = tuple(
            (rule, tuple((route_pattern(route, every_param=True), rule.group or route) for route in rule.routes))
            for rule in rules
        )

    @classmethod
    def from_policy(
        cls, policy: Policy, hasher: IdentityHasher, store: QuotaStore | None = None, clock: Clock = system_clock
    ) -> QuotaGate:
        """The gate for ``policy``'s quotas, on ``store`` or the one ``[quotas]`` names."""
        return cls(
            policy.quota, policy.quotas, store if store is not None else build_store(policy.quotas, clock), hasher
        )

    async def use(self, key: str, limit: int, ttl: float) -> bool:
        """Count one use of ``key`` (a cursor); False once it was used ``limit`` times within ``ttl``.

        While the store is down, uses are counted by the local fallback (per worker).
        """
        decision = await self.store.decide([Charge(key, Counter(limit, max(ttl, 1.0)))])
        return decision.allowed

    def applicable(self, path: str, method: str) -> tuple[ActiveQuota, ...]:
        active = []
        for rule, patterns in self._rules:
            if rule.methods is not None and method not in rule.methods:
                continue
            scope = _first_match(patterns, path)
            if scope is not None:
                active.append(ActiveQuota(rule, scope))
        return tuple(active)

    @staticmethod
    def tally_for(quotas: Sequence[ActiveQuota]) -> RecordTally | None:
        """What the response must count for these quotas (None: only requests are charged)."""
        specs = {_tally_spec(q.rule) for q in quotas if q.rule.kind != "requests"}
        return RecordTally(sorted(specs)) if specs else None

    async def admit(self, quotas: Sequence[ActiveQuota], requester: Requester) -> Verdict:
        """Before the app: requests charged, record budgets checked for one more record."""
        charged: list[tuple[ActiveQuota, Charge]] = []
        for quota in quotas:
            rule = quota.rule
            if rule.kind == "distinct":
                continue  # nothing to check before the IDs are known
            charged += [(quota, self._unit_charge(rule, key)) for key in self._keys(quota, requester)]
        if not charged:
            return _ALLOWED
        return await self._decide(charged, requester, final=False)

    async def settle(self, quotas: Sequence[ActiveQuota], requester: Requester, tally: RecordTally) -> Verdict:
        """After the app: the response's records and IDs, all fitting or none sent."""
        charged: list[tuple[ActiveQuota, Charge]] = []
        for quota in quotas:
            rule = quota.rule
            if rule.kind == "requests":
                continue
            count, ids = tally.counts.get(_tally_spec(rule), (0, ()))
            for key in self._keys(quota, requester):
                if rule.kind == "records" and count:
                    charged.append((quota, Charge(key, rule.spec, count, enforce=not rule.shadow)))
                elif rule.kind == "distinct" and ids:
                    charged.append((quota, Charge(key, rule.spec, members=ids, enforce=not rule.shadow)))
        if not charged:
            return _ALLOWED
        return await self._decide(charged, requester, final=True)

    # -- internals --------------------------------------------------------------------

    def _keys(self, quota: ActiveQuota, requester: Requester) -> list[str]:
        """One store key per identity key the quota counts; the shared anonymous one if none."""
        rule = quota.rule
        keys = [key for key in requester.keys if key.source in rule.per] or [_ANONYMOUS]
        return [f"{rule.name}|{quota.scope}|{self._hasher(key)}" for key in keys]

    def _unit_charge(self, rule: QuotaRule, key: str) -> Charge:
        """The before-the-app charge of one key: always the same object (cached, bounded)."""
        charge = self._charges.get(key)
        if charge is None:
            charge = Charge(key, rule.spec, 1, enforce=not rule.shadow, peek=rule.kind == "records")
            if len(self._charges) >= _CHARGE_CACHE:
                self._charges.clear()
            self._charges[key] = charge
        return charge

    async def _decide(self, charged: list[tuple[ActiveQuota, Charge]], requester: Requester, *, final: bool) -> Verdict:
        settings = self.settings
        primary = requester.primary or _ANONYMOUS
        penalty_key = f"penalty|{self._hasher(primary)}" if settings.penalty else None
        charges = [charge for _, charge in charged]
        decision = await self.store.decide(charges, penalty=settings.penalty, penalty_key=penalty_key)
        if decision.degraded and any(q.rule.outage == "closed" and c.enforce for q, c in charged):
            problem = Problem(
                "quota-store-unavailable", "Quotas cannot be checked", 503, "the quota store is unavailable"
            )
            return _retry_later(problem, settings.retry_after, Refusal("store_unavailable", "store", 503))
        outcomes = zip(charged, decision.outcomes, strict=True)
        shadowed = {quota.rule.name for (quota, charge), outcome in outcomes if not (charge.enforce or outcome.allowed)}
        for name in sorted(shadowed):  # once per quota, however many keys it counts
            logger.info("shadow quota %r would have refused (%s)", name, "records" if final else "request")
        return self._verdict(charged, decision)

    def _verdict(self, charged: list[tuple[ActiveQuota, Charge]], decision: Decision) -> Verdict:
        if decision.blocked_for > 0:
            problem = Problem("temporarily-blocked", "Temporarily blocked", 429, "too many refused requests")
            return _retry_later(problem, decision.blocked_for, Refusal("blocked", "penalty", 429))
        headers_mode = self.settings.headers
        if decision.allowed:
            return Verdict(None, self._headers(charged, decision) if headers_mode == "always" else [])
        assert decision.refused_by is not None  # refused, and not by a block
        quota, refused = charged[decision.refused_by]
        outcome = decision.outcomes[decision.refused_by]
        retry = max(1, math.ceil(outcome.retry_after))
        headers: Headers = [(b"retry-after", str(retry).encode())]
        if headers_mode != "none":
            headers += self._headers(charged, decision)
        problem = Problem(
            slug="quota-exceeded",
            title="Quota exceeded",
            status=429,
            detail=f"quota {quota.rule.name!r} exceeded; retry after {retry} seconds",
            extensions={"quota": quota.rule.name},
        )
        source = refused.key.rsplit("|", 2)[1]  # store keys end in source|digest
        return Verdict(problem, headers, Refusal("quota", quota.rule.name, 429, source))

    def _headers(self, charged: list[tuple[ActiveQuota, Charge]], decision: Decision) -> Headers:
        """``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers-11)."""
        by_name: dict[str, tuple[QuotaRule, int, float]] = {}
        for (quota, charge), outcome in zip(charged, decision.outcomes, strict=True):
            if not charge.enforce or (charge.peek and outcome.allowed):
                continue  # a record budget that fits is reported once its records are counted
            rule = quota.rule
            remaining = 0 if not outcome.allowed else outcome.remaining
            wait = outcome.retry_after if not outcome.allowed else outcome.reset_after
            seen = by_name.get(rule.name)
            if seen is None or remaining < seen[1]:
                by_name[rule.name] = (rule, remaining, wait)
        if not by_name:
            return []
        coarse = self.settings.coarse_headers
        policies = []
        limits = []
        for name, (rule, left, wait) in by_name.items():
            window = math.ceil(rule.window)
            remaining, reset = left, math.ceil(wait)
            if coarse:  # a scraper pacing itself just under the limit sees only tenths
                step, tick = max(1, rule.limit // 10), max(1, window // 10)
                remaining, reset = left // step * step, math.ceil(wait / tick) * tick
            policies.append(f'"{name}";q={rule.limit};w={window}')
            limits.append(f'"{name}";r={remaining};t={reset}')
        return [(b"ratelimit-policy", ", ".join(policies).encode()), (b"ratelimit", ", ".join(limits).encode())]


def _retry_later(problem: Problem, seconds: float, refusal: Refusal) -> Verdict:
    """A refusal only time lifts: the problem says when, and so does ``Retry-After``."""
    retry = math.ceil(seconds)
    problem = replace(problem, detail=f"{problem.detail}; retry after {retry} seconds")
    return Verdict(problem, [(b"retry-after", str(retry).encode())], refusal)


def build_store(settings: QuotaSettings, clock: Clock) -> QuotaStore:
    """The store ``[quotas]`` names: memory, or Redis with a bounded local fallback."""
    memory = MemoryStore(clock, max_keys=settings.max_keys)
    if settings.store == "memory":
        return memory
    # While Redis is down, a bounded local store decides for quotas whose outage is "open".
    primary = RedisStore(
        url=settings.redis_url,
        cluster=settings.redis_cluster,
        prefix=settings.redis_prefix,
        hash_tag=settings.redis_hash_tag,
    )
    return ResilientStore(primary, memory, timeout=settings.timeout, retry_after=settings.retry_after, clock=clock)


def _first_match(patterns: tuple[tuple[re.Pattern[str], str], ...], path: str) -> str | None:
    for pattern, scope in patterns:
        if pattern.match(path):
            return scope
    return None


def _tally_spec(rule: QuotaRule) -> TallySpec:
    return (rule.records, rule.id_field)
