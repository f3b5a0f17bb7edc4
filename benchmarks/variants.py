"""The variants the overhead harness can measure, registered in one table.

A variant wraps the bare app (or leaves it alone) and says how to tell that its responses are
right, so a broken variant can never post good numbers. A later issue adds e.g. ``tokens``,
``quotas-memory``, ``full-redis`` or ``slowapi-memory`` by adding one entry to ``VARIANTS``.
Anything shield-specific is imported inside the wrapper: the harness runs before shield exists.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from benchmarks.fakedata import FakeUser

# Deliberately not shield's detector: an independent look for any Chinese mobile that survived.
_CN_MOBILE = re.compile(r"(?<!\d)1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
_UNTOUCHED_FIELDS = ("id", "city", "created_at")

MASKING_POLICY: dict[str, Any] = {
    "mask": [
        {"field": "phone", "kind": "phone"},
        {"field": "email", "kind": "email"},
        {"field": "username", "kind": "username"},
    ]
}

TOKENS_POLICY: dict[str, Any] = {
    "tokens": {"secrets": ["benchmark token secret: at least 32 bytes, never used elsewhere"]},
    "route": [
        {
            "path": "/users",
            "masking": False,
            "seal": [{"field": "items[*].id", "kind": "user"}],
            "pagination": {"style": "offset", "size_param": "limit", "max_size": 100, "links": ["next"]},
        },
        {
            "path": "/users/{user_id:int}",
            "masking": False,
            "seal": [{"field": "id", "kind": "user"}],
            "unseal": [{"param": "user_id", "kind": "user"}],
        },
    ],
}

Wrap = Callable[["ASGIApp"], "ASGIApp"]
Check = Callable[[bytes, "Sequence[FakeUser]"], list[str]]
Fetch = Callable[[str], tuple[int, bytes]]
# (endpoint name, its default path, a GET on the variant's server) -> the path to load.
Locate = Callable[[str, str, Fetch], str]


class VariantUnavailable(Exception):
    """The variant cannot be built here (shield not landed yet, backend missing…)."""


@dataclass(frozen=True)
class Variant:
    """One way to serve the benchmark app.

    ``check`` returns problems with a response body (empty when it is right);
    ``targets`` maps an endpoint name to the minimum share of bare req/s the variant must keep;
    ``locate`` finds the path to load when the default one is not valid for this variant (a
    cursor or a sealed ID in place of a raw offset or ID). ``uses_redis``: the Redis server's
    CPU is part of what the variant costs, not load from elsewhere.
    """

    name: str
    summary: str
    wrap: Wrap
    check: Check
    targets: Mapping[str, float] = field(default_factory=dict)
    locate: Locate | None = None
    uses_redis: bool = False


class PassthroughMiddleware:
    """A pure-ASGI middleware that wraps ``send`` and changes nothing.

    The control: any body-rewriting middleware pays at least this much (one extra call layer and
    a wrapped ``send``), so bare-vs-passthrough shows the harness's resolution.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def forward(message: Message) -> None:
            await send(message)

        await self.app(scope, receive, forward)


def _records(body: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return [], [f"body is not JSON: {exc}"]
    if isinstance(doc, dict) and isinstance(doc.get("items"), list):
        return doc["items"], []
    if isinstance(doc, dict):
        return [doc], []
    return [], [f"unexpected JSON shape: {type(doc).__name__}"]


def _same_rows(records: list[dict[str, Any]], expected: Sequence[FakeUser]) -> list[str]:
    if len(records) != len(expected):
        return [f"expected {len(expected)} records, got {len(records)}"]
    pairs = zip(records, expected, strict=True)
    return [f"record {u.id} differs from the app's row" for r, u in pairs if r != u.json_row()][:3]


def check_unchanged(body: bytes, expected: Sequence[FakeUser]) -> list[str]:
    """The body is the app's own rows, byte for byte in meaning (bare, passthrough)."""
    records, problems = _records(body)
    return problems or _same_rows(records, expected)


def check_masked(body: bytes, expected: Sequence[FakeUser], untouched: Sequence[str] = _UNTOUCHED_FIELDS) -> list[str]:
    """Same records, but no phone, email or username of theirs survives anywhere in the body."""
    records, problems = _records(body)
    if problems:
        return problems
    if len(records) != len(expected):
        return [f"expected {len(expected)} records, got {len(records)}"]
    text = body.decode()
    for record, user in zip(records, expected, strict=True):
        original = user.json_row()
        for name in untouched:
            if record.get(name) != original[name]:
                problems.append(f"record {user.id}: {name} changed but no rule masks it")
        for name in ("phone", "email", "username"):
            if record.get(name) == original[name]:
                problems.append(f"record {user.id}: {name} not masked")
        problems.extend(
            f"record {user.id}: {secret!r} leaked"
            for secret in (user.phone, user.email, *user.bio_phones)
            if secret in text
        )
    if (leak := _CN_MOBILE.search(text)) is not None:
        problems.append(f"unmasked Chinese mobile in body: {leak.group()!r}")
    return problems[:5]


def check_sealed(body: bytes, expected: Sequence[FakeUser]) -> list[str]:
    """Same number of records, every id a token, the next link (if any) a cursor URL."""
    records, problems = _records(body)
    if problems:
        return problems
    if len(records) != len(expected):
        return [f"expected {len(expected)} records, got {len(records)}"]
    problems = [f"id {r.get('id')!r} is not sealed" for r in records if not isinstance(r.get("id"), str)][:3]
    following = orjson.loads(body).get("next")
    if isinstance(following, str) and ("offset=" in following or "cursor=" not in following):
        problems.append(f"next link not sealed: {following!r}")
    return problems


def locate_by_token(endpoint: str, path: str, fetch: Fetch) -> str:
    """Page 2 through the cursor of page 1's next link; a user through their sealed ID."""
    if endpoint == "list":
        status, body = fetch(path)
        following = orjson.loads(body).get("next") if status == 200 else None
        if not isinstance(following, str):
            raise VariantUnavailable(f"no next link on {path} ({status})")
        return following
    user_id = int(path.rsplit("/", 1)[-1])
    status, body = fetch(f"/users?limit={user_id}")  # the first page: no cursor needed
    if status != 200:
        raise VariantUnavailable(f"cannot list user {user_id} ({status})")
    return f"/users/{orjson.loads(body)['items'][user_id - 1]['id']}"


def check_full(body: bytes, expected: Sequence[FakeUser]) -> list[str]:
    """Masked as ``masking`` is, and sealed as ``tokens`` is."""
    return check_masked(body, expected, untouched=()) + check_sealed(body, expected)


def check_records(body: bytes, expected: Sequence[FakeUser]) -> list[str]:
    """As many records as the app sent, whatever happened to them (``naive-masking`` leaks)."""
    records, problems = _records(body)
    if problems or len(records) == len(expected):
        return problems
    return [f"expected {len(expected)} records, got {len(records)}"]


def _reference(name: str) -> Wrap:
    """A middleware of ``benchmarks.references``: what any Python implementation pays at least."""

    def wrap(app: ASGIApp) -> ASGIApp:
        from benchmarks import references  # noqa: PLC0415  (lazy like the other wrappers)

        middleware: Wrap = getattr(references, name)
        return middleware(app)

    return wrap


def _floor_redis(app: ASGIApp) -> ASGIApp:
    try:
        from benchmarks.references import FloorRedisQuotas  # noqa: PLC0415  (lazy like the other wrappers)

        return FloorRedisQuotas(app, redis_url(), f"shield-floor-{os.getpid()}")
    except ImportError as exc:
        raise VariantUnavailable(f"redis is not installed: {exc}") from exc


def _passthrough(app: ASGIApp) -> ASGIApp:
    return PassthroughMiddleware(app)


def _masking(app: ASGIApp) -> ASGIApp:
    try:
        from shield import Policy, ShieldMiddleware  # noqa: PLC0415  (lazy on purpose)
    except ImportError as exc:
        raise VariantUnavailable(f"shield.ShieldMiddleware/Policy not importable: {exc}") from exc
    return ShieldMiddleware(app, Policy.from_dict(MASKING_POLICY))


PAGINATION_POLICY: dict[str, Any] = {
    "tokens": TOKENS_POLICY["tokens"],
    "route": [
        {"path": "/users", "masking": False, "pagination": TOKENS_POLICY["route"][0]["pagination"]},
        {"path": "/users/{user_id:int}", "masking": False},
    ],
}


def check_paginated(body: bytes, expected: Sequence[FakeUser]) -> list[str]:
    """The app's own records (page 2, through the cursor), and a sealed next link."""
    records, problems = _records(body)
    if problems or len(records) != len(expected):
        return problems or [f"expected {len(expected)} records, got {len(records)}"]
    following = orjson.loads(body).get("next")
    if isinstance(following, str) and ("offset=" in following or "cursor=" not in following):
        problems.append(f"next link not sealed: {following!r}")
    return problems


def _pagination(app: ASGIApp) -> ASGIApp:
    from shield import Policy, ShieldMiddleware  # noqa: PLC0415  (lazy on purpose)

    return ShieldMiddleware(app, Policy.from_dict(PAGINATION_POLICY))


def _tokens(app: ASGIApp) -> ASGIApp:
    from shield import Policy, ShieldMiddleware  # noqa: PLC0415  (lazy on purpose)

    return ShieldMiddleware(app, Policy.from_dict(TOKENS_POLICY))


# Three quotas (requests, records, distinct records) over the routes, never reached in a run.
_ROUTES = ["/users", "/users/{user_id:int}"]
QUOTAS: list[dict[str, Any]] = [
    {"name": "burst", "limit": 10_000_000, "window": 60, "routes": _ROUTES, "group": "api"},
    {"name": "records", "kind": "records", "limit": 10**12, "window": 3600, "routes": _ROUTES, "group": "api"},
    {"name": "seen", "kind": "distinct", "limit": 10**9, "window": 86400, "routes": _ROUTES, "group": "api"},
]
_UNMASKED_ROUTES = [{"path": path, "masking": False} for path in _ROUTES]


def redis_url() -> str:
    """The Redis server the Redis variants use (``SHIELD_BENCH_REDIS``, default the local one)."""
    return os.environ.get("SHIELD_BENCH_REDIS", "redis://127.0.0.1:6379/0")


def _redis_quotas() -> dict[str, Any]:
    """A Redis store under a key prefix of its own (this server process's), emptied by TTL."""
    return {
        "store": "redis",
        "redis_url": redis_url(),
        "redis_prefix": f"shield-bench-{os.getpid()}",
        "timeout": 1.0,
    }


def _quota_policy(store: str) -> dict[str, Any]:
    policy: dict[str, Any] = {"quota": QUOTAS, "route": _UNMASKED_ROUTES}
    if store == "redis":
        policy |= {"quotas": _redis_quotas(), "secrets": {"hash_key": "benchmark hash key, not a secret"}}
    return policy


def _full_policy(store: str) -> dict[str, Any]:
    routes = [
        {**route, "mask": MASKING_POLICY["mask"]} for route in TOKENS_POLICY["route"]
    ]  # masking + tokens on both routes
    for route in routes:
        route.pop("masking")
    policy: dict[str, Any] = {**TOKENS_POLICY, "route": routes, "quota": QUOTAS}
    if store == "redis":
        policy |= {"quotas": _redis_quotas(), "secrets": {"hash_key": "benchmark hash key, not a secret"}}
    return policy


def _shield_with(policy: Callable[[str], dict[str, Any]], store: str) -> Wrap:
    def wrap(app: ASGIApp) -> ASGIApp:
        from shield import Policy, ShieldMiddleware  # noqa: PLC0415  (lazy on purpose)

        return ShieldMiddleware(app, Policy.from_dict(policy(store)))

    return wrap


def _slowapi(store: str) -> Wrap:
    """slowapi (limits underneath) with one never-reached limit per client address."""

    def wrap(app: ASGIApp) -> ASGIApp:
        try:
            from slowapi import Limiter  # noqa: PLC0415  (optional peer)
            from slowapi.middleware import SlowAPIMiddleware  # noqa: PLC0415
            from slowapi.util import get_remote_address  # noqa: PLC0415
        except ImportError as exc:
            raise VariantUnavailable("slowapi is not installed: pip install 'asgi-shield[bench]'") from exc
        uri = "memory://" if store == "memory" else redis_url()
        limiter = Limiter(key_func=get_remote_address, default_limits=["100000000/minute"], storage_uri=uri)
        app.state.limiter = limiter  # type: ignore[attr-defined]  # FastAPI and Starlette apps have state
        app.add_middleware(SlowAPIMiddleware)  # type: ignore[attr-defined]
        return app

    return wrap


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("bare", "the app as is", lambda app: app, check_unchanged),
        Variant("passthrough", "no-op pure-ASGI middleware (control)", _passthrough,
                check_unchanged),
        Variant("masking", "ShieldMiddleware masking phone, email, username + free text",
                _masking, check_masked, targets={"list": 0.90, "single": 0.95}),
        Variant("pagination", "ShieldMiddleware rewriting pagination only: page 2 through a cursor",
                _pagination, check_paginated, targets={"list": 0.90}, locate=locate_by_token),
        Variant("tokens", "ShieldMiddleware with cursors and sealed IDs (no masking)",
                _tokens, check_sealed, locate=locate_by_token),
        Variant("quotas-memory", "ShieldMiddleware with 3 quotas (requests, records, distinct), memory store",
                _shield_with(_quota_policy, "memory"), check_unchanged, targets={"single": 0.90}),
        Variant("quotas-redis", "the same 3 quotas on Redis",
                _shield_with(_quota_policy, "redis"), check_unchanged, targets={"single": 0.80}, uses_redis=True),
        Variant("full-memory", "masking + cursors + sealed IDs + 3 quotas, memory store",
                _shield_with(_full_policy, "memory"), check_full, targets={"list": 0.85, "single": 0.85},
                locate=locate_by_token),
        Variant("full-redis", "masking + cursors + sealed IDs + 3 quotas on Redis",
                _shield_with(_full_policy, "redis"), check_full, targets={"list": 0.75, "single": 0.75},
                locate=locate_by_token, uses_redis=True),
        Variant("slowapi-memory", "peer: slowapi, one limit per address, memory storage",
                _slowapi("memory"), check_unchanged),
        Variant("slowapi-redis", "peer: slowapi, one limit per address, Redis storage",
                _slowapi("redis"), check_unchanged, uses_redis=True),
        Variant("floor-masking", "reference: the least masking work in Python (schema known, no policy)",
                _reference("FloorMasker"), check_masked),
        Variant("naive-masking", "reference: BaseHTTPMiddleware + json + one regex (the issue's; leaks)",
                _reference("naive_masker"), check_records),
        Variant("floor-pagination", "reference: the least cursor work in Python (HMAC offset, no binding)",
                _reference("FloorPagination"), check_paginated, locate=locate_by_token),
        Variant("floor-quotas", "reference: the least quota work in Python (3 dicts per address)",
                _reference("FloorQuotas"), check_unchanged),
        Variant("floor-quotas-redis", "reference: the least Redis quota work (one EVALSHA per request)",
                _floor_redis, check_unchanged, uses_redis=True),
        Variant("floor-full", "reference: masking, cursor and quota floors on one parse + sealed IDs (as full-*)",
                _reference("FloorFull"), check_full, locate=locate_by_token),
    )
}  # fmt: skip
