"""The policy sections about quotas: ``[quotas]`` (the store, headers, penalty) and ``[[quota]]``.

Read by :meth:`shield.Policy.from_dict`; see ``docs/policy.md`` for every key and
``docs/quotas.md`` for the algorithms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from shield._config import Table
from shield.errors import PolicyError
from shield.quotas import Budget, Distinct, Penalty, Quota, Rate
from shield.requester import SOURCES

__all__ = ["QuotaRule", "QuotaSettings", "read_quota_rules", "read_quota_settings"]

QuotaKind = Literal["requests", "records", "distinct"]
KINDS: tuple[QuotaKind, ...] = ("requests", "records", "distinct")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class QuotaRule:
    """One budget: ``limit`` per ``window`` seconds of one kind, for each identity key in ``per``."""

    name: str
    kind: QuotaKind
    spec: Quota
    routes: tuple[str, ...]
    methods: frozenset[str] | None = None
    group: str | None = None
    per: tuple[str, ...] = SOURCES
    records: tuple[str, ...] = ()
    id_field: str = "id"
    shadow: bool = False
    outage: Literal["closed", "open"] = "closed"

    @property
    def limit(self) -> int:
        return self.spec.limit

    @property
    def window(self) -> float:
        return self.spec.window  # type: ignore[union-attr]  # quota rules never hold a Counter


@dataclass(frozen=True, slots=True)
class QuotaSettings:
    """Where quota state lives and what clients are told about it."""

    store: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_cluster: bool = False
    redis_prefix: str = "shield"
    redis_hash_tag: str = "shield"
    max_keys: int = 1_000_000
    timeout: float = 0.05
    retry_after: float = 1.0
    headers: Literal["limited", "always", "none"] = "limited"
    coarse_headers: bool = False
    penalty: Penalty | None = None


def read_quota_settings(table: Table) -> QuotaSettings:
    store = table.choice("store", ("memory", "redis"), "memory")
    url = table.secret("redis_url") if table.has("redis_url") else None
    penalty = None
    penalty_table = table.table("penalty")
    if table.has("penalty"):
        try:
            penalty = Penalty(
                strikes=penalty_table.positive_int("strikes", 10),
                within=penalty_table.seconds("within", 60.0),
                block=penalty_table.seconds("block", 900.0),
            )
        except ValueError as exc:
            raise PolicyError(table.key_path("penalty"), str(exc)) from exc
        penalty_table.finish()
    settings = QuotaSettings(
        store=store,  # type: ignore[arg-type]  # checked by choice()
        redis_url=url or "redis://127.0.0.1:6379/0",
        redis_cluster=table.value("redis_cluster", bool, False),
        redis_prefix=_key_part(table, "redis_prefix"),
        redis_hash_tag=_key_part(table, "redis_hash_tag"),
        max_keys=table.positive_int("max_keys", 1_000_000),
        timeout=table.seconds("timeout", 0.05),
        retry_after=table.seconds("retry_after", 1.0),
        headers=table.choice("headers", ("limited", "always", "none"), "limited"),  # type: ignore[arg-type]
        coarse_headers=table.value("coarse_headers", bool, False),
        penalty=penalty,
    )
    table.finish()
    return settings


def read_quota_rules(root: Table) -> list[QuotaRule]:
    rules: list[QuotaRule] = []
    for table in root.tables("quota"):
        rule = _read_rule(table)
        if any(other.name == rule.name for other in rules):
            raise PolicyError(table.key_path("name"), f"duplicate quota name {rule.name!r}")
        rules.append(rule)
    return rules


def _read_rule(table: Table) -> QuotaRule:
    name = table.value("name", str, "")
    if not _NAME.match(name):
        raise PolicyError(table.key_path("name"), f"required: letters, digits, '_', '.', '-' (up to 64), got {name!r}")
    kind: QuotaKind = table.choice("kind", KINDS, "requests")  # type: ignore[assignment]  # checked by choice()
    routes = tuple(table.path_template(f"routes[{i}]", route) for i, route in enumerate(table.strings("routes")))
    if not routes:
        raise PolicyError(table.key_path("routes"), "required: the route templates this quota counts")
    records = table.field_paths("records")
    if records and kind == "requests":
        raise PolicyError(table.key_path("records"), "only records and distinct quotas count records")
    rule = QuotaRule(
        name=name,
        kind=kind,
        spec=_spec(table, kind),
        routes=routes,
        methods=table.methods(),
        group=table.value("group", str, "") or None,
        per=table.choices("per", SOURCES, "identity source"),
        records=records,
        id_field=table.value("id_field", str, "id"),
        shadow=table.choice("mode", ("enforce", "shadow"), "enforce") == "shadow",
        outage=table.choice("outage", ("closed", "open"), "closed"),  # type: ignore[arg-type]
    )
    table.finish()
    return rule


def _spec(table: Table, kind: QuotaKind) -> Quota:
    if not table.has("limit"):
        raise PolicyError(table.key_path("limit"), "required: how many requests or records per window")
    limit = table.positive_int("limit", 1)
    window = table.seconds("window", 60.0)
    burst = table.positive_int("burst", 1) if table.has("burst") else None
    if burst is not None and kind != "requests":
        raise PolicyError(table.key_path("burst"), "only requests quotas have a burst")
    approximate = table.value("approximate", bool, False)
    if approximate and kind != "distinct":
        raise PolicyError(table.key_path("approximate"), "only distinct quotas can be approximate")
    try:
        if kind == "requests":
            return Rate(limit, window, burst)
        if kind == "records":
            return Budget(limit, window)
        return Distinct(limit, window, approximate=approximate)
    except ValueError as exc:
        raise PolicyError(table.key_path("limit"), str(exc)) from exc


def _key_part(table: Table, key: str) -> str:
    """A piece of every Redis key: Redis hashes the first ``{...}`` of a key, so no braces."""
    value = table.value(key, str, "shield")
    if not value or "{" in value or "}" in value:
        raise PolicyError(table.key_path(key), f"must be a non-empty string without braces, got {value!r}")
    return value
