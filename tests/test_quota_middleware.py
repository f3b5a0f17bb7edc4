"""Quotas in the middleware, in front of a real FastAPI app, on the memory store and on Redis.

Each test runs against every store (Redis: the real server on 127.0.0.1:6379 and the session's
three-node Redis Cluster, a fresh key prefix per test, time from a frozen clock passed to the
script). The app counts the calls it served,
so tests also check that a refused request never reached it and refused records never left.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
from clocks import FrozenClock
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from hypothesis import given, settings
from hypothesis import strategies as st
from redis_backends import BACKENDS, redis_store
from starlette.types import Message

from shield import Policy, ShieldMiddleware
from shield.quotas import MemoryStore, QuotaStore, RedisStore, ResilientStore

pytestmark = pytest.mark.anyio

USERS = [{"id": n, "name": f"user {n}"} for n in range(1, 501)]


def build_app() -> FastAPI:
    app = FastAPI()
    app.state.calls = 0

    @app.get("/users")
    def users(offset: int = 0, limit: int = 50) -> dict[str, Any]:
        app.state.calls += 1
        return {"items": USERS[offset : offset + limit], "total": len(USERS)}

    @app.get("/users/{user_id}")
    def user(user_id: int) -> dict[str, Any]:
        app.state.calls += 1
        return USERS[user_id - 1]

    @app.get("/shops")
    def shops() -> list[dict[str, Any]]:
        app.state.calls += 1
        return [{"id": n} for n in range(10)]

    @app.get("/stream")
    def stream() -> StreamingResponse:
        app.state.calls += 1
        lines = (f'{{"id": {n}}}\n' for n in range(5))
        return StreamingResponse(lines, media_type="application/x-ndjson")

    return app


@dataclass
class Setup:
    store_name: str
    clock: FrozenClock
    make_store: Any

    def client(self, quota: list[dict[str, Any]], **policy: Any) -> tuple[httpx.AsyncClient, FastAPI]:
        app = build_app()
        shielded = ShieldMiddleware(
            app, Policy.from_dict({"quota": quota, **policy}), quota_store=self.make_store(), clock=self.clock
        )
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=shielded), base_url="http://testserver")
        return client, app


@pytest.fixture(params=["memory", *BACKENDS])
async def setup(request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    clock = FrozenClock()
    if request.param == "memory":
        yield Setup("memory", clock, lambda: MemoryStore(clock=clock))
        return
    async with redis_store(request, request.param, clock) as store:
        yield Setup(request.param, clock, lambda: store)  # one prefix: clients of a test share it


def limited(response: httpx.Response, quota: str) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith("/quota-exceeded")
    assert problem["quota"] == quota
    assert int(response.headers["retry-after"]) >= 1
    return problem


KEY_A = {"x-api-key": "key-a"}
KEY_B = {"x-api-key": "key-b"}


# --- requests ---------------------------------------------------------------------------------


async def test_requests_quota_refuses_with_problem_retry_after_and_ratelimit(setup: Setup) -> None:
    quota = {"name": "burst", "limit": 3, "window": 60, "routes": ["/users/{user_id}"], "per": ["api_key"]}
    client, app = setup.client([quota])
    async with client:
        for user_id in (1, 2, 3):  # the route template counts across all ids
            assert (await client.get(f"/users/{user_id}", headers=KEY_A)).status_code == 200
        response = await client.get("/users/4", headers=KEY_A)
        limited(response, "burst")
        assert response.headers["ratelimit-policy"] == '"burst";q=3;w=60'
        assert response.headers["ratelimit"].startswith('"burst";r=0;t=')
        assert (await client.get("/users/4", headers=KEY_B)).status_code == 200  # another key: its own budget
        setup.clock.advance(20)  # one request's worth of the window
        assert (await client.get("/users/4", headers=KEY_A)).status_code == 200
    assert app.state.calls == 5


async def test_rotating_api_keys_from_one_network_still_fill_the_network_budget(setup: Setup) -> None:
    client, _ = setup.client([{"name": "net", "limit": 5, "window": 60, "routes": ["/users"], "per": ["network"]}])
    async with client:
        for n in range(5):
            assert (await client.get("/users?limit=1", headers={"x-api-key": f"key-{n}"})).status_code == 200
        limited(await client.get("/users?limit=1", headers={"x-api-key": "fresh"}), "net")


async def test_all_or_nothing_a_refusal_consumes_no_other_quota(setup: Setup) -> None:
    quotas = [
        {"name": "tight", "limit": 1, "window": 60, "routes": ["/users/{user_id}"]},
        {"name": "loose", "limit": 3, "window": 60, "routes": ["/users/{user_id}", "/shops"], "group": "all"},
    ]
    client, _ = setup.client(quotas, quotas={"headers": "always"})
    async with client:
        assert (await client.get("/users/1", headers=KEY_A)).status_code == 200
        for _ in range(5):  # refused by "tight": "loose" must not be charged
            limited(await client.get("/users/1", headers=KEY_A), "tight")
        shops = await client.get("/shops", headers=KEY_A)
        assert shops.status_code == 200
        assert shops.headers["ratelimit"] == '"loose";r=1;t=40'


async def test_groups_share_a_budget_across_routes(setup: Setup) -> None:
    quota = {"name": "catalog", "limit": 2, "window": 60, "routes": ["/users", "/shops"], "group": "catalog"}
    client, _ = setup.client([quota])
    async with client:
        assert (await client.get("/users?limit=1", headers=KEY_A)).status_code == 200
        assert (await client.get("/shops", headers=KEY_A)).status_code == 200
        limited(await client.get("/users?limit=1", headers=KEY_A), "catalog")


async def test_requests_without_any_identity_share_one_bucket(setup: Setup) -> None:
    client, _ = setup.client([{"name": "keyed", "limit": 2, "window": 60, "routes": ["/shops"], "per": ["api_key"]}])
    async with client:
        assert (await client.get("/shops")).status_code == 200
        assert (await client.get("/shops")).status_code == 200
        limited(await client.get("/shops"), "keyed")  # no key: the shared anonymous bucket
        assert (await client.get("/shops", headers=KEY_A)).status_code == 200


# --- records ----------------------------------------------------------------------------------


async def test_records_budget_is_charged_before_the_body_leaves(setup: Setup) -> None:
    quota = {"name": "records", "kind": "records", "limit": 120, "window": 3600, "routes": ["/users"]}
    client, app = setup.client([quota], quotas={"headers": "always"})
    async with client:
        first = await client.get("/users?limit=50", headers=KEY_A)
        assert first.status_code == 200
        assert first.headers["ratelimit"].startswith('"records";r=70;')
        assert (await client.get("/users?limit=50", headers=KEY_A)).status_code == 200
        refused = await client.get("/users?limit=50", headers=KEY_A)  # 150 > 120: no record leaves
        limited(refused, "records")
        assert "items" not in refused.text
        assert (await client.get("/users?limit=20", headers=KEY_A)).status_code == 200  # exactly 120
        limited(await client.get("/users?limit=1", headers=KEY_A), "records")  # exhausted: refused before the app
    assert app.state.calls == 4


@settings(max_examples=25, deadline=None)
@given(pages=st.lists(st.integers(1, 80), min_size=1, max_size=12))
async def test_records_never_leak_past_the_budget(pages: list[int]) -> None:
    clock = FrozenClock()
    quota = {"name": "records", "kind": "records", "limit": 150, "window": 3600, "routes": ["/users"]}
    app = build_app()
    shielded = ShieldMiddleware(app, Policy.from_dict({"quota": [quota]}), clock=clock)
    received = 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shielded), base_url="http://t") as client:
        for size in pages:
            response = await client.get(f"/users?limit={size}", headers=KEY_A)
            if response.status_code == 200:
                received += len(response.json()["items"])
            else:
                assert response.status_code == 429
    assert received <= 150
    assert received == sum(_prefix_that_fits(pages, 150))


def _prefix_that_fits(pages: list[int], limit: int) -> list[int]:
    taken: list[int] = []
    for size in pages:
        if sum(taken) + size <= limit:
            taken.append(size)
    return taken


async def test_concurrent_requests_never_overshoot_the_records_budget(setup: Setup) -> None:
    quota = {"name": "records", "kind": "records", "limit": 200, "window": 3600, "routes": ["/users"]}
    client, _ = setup.client([quota])
    statuses: list[int] = []

    async def fetch() -> None:
        statuses.append((await client.get("/users?limit=30", headers=KEY_A)).status_code)

    async with client, anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(fetch)
    assert statuses.count(200) == 200 // 30
    assert statuses.count(429) == 20 - 200 // 30


async def test_distinct_records_count_new_ids_only(setup: Setup) -> None:
    quota = {
        "name": "seen",
        "kind": "distinct",
        "limit": 60,
        "window": 3600,
        "routes": ["/users"],
        "records": ["items"],
    }
    client, _ = setup.client([quota])
    async with client:
        for _ in range(5):  # the same 50 users again and again: nothing new
            assert (await client.get("/users?limit=50", headers=KEY_A)).status_code == 200
        assert (await client.get("/users?offset=45&limit=15", headers=KEY_A)).status_code == 200  # 10 new: 60
        limited(await client.get("/users?offset=60&limit=1", headers=KEY_A), "seen")
        assert (await client.get("/users?offset=0&limit=60", headers=KEY_A)).status_code == 200  # all seen


async def test_streamed_records_on_a_records_route_fail_closed(setup: Setup) -> None:
    quota = {"name": "records", "kind": "records", "limit": 100, "window": 60, "routes": ["/stream"]}
    client, _ = setup.client([quota])
    async with client:
        response = await client.get("/stream", headers=KEY_A)
    assert response.status_code == 502
    assert "streamed-records" in response.json()["detail"]


# --- rollout and repeat offenders -----------------------------------------------------------


async def test_shadow_quotas_decide_but_never_refuse(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shield.quotas")
    quota = {"name": "trial", "limit": 1, "window": 60, "routes": ["/shops"], "mode": "shadow"}
    client, app = setup.client([quota])
    async with client:
        for _ in range(4):
            assert (await client.get("/shops", headers=KEY_A)).status_code == 200
    assert app.state.calls == 4
    assert sum("shadow quota 'trial' would have refused" in r.getMessage() for r in caplog.records) == 3


async def test_repeat_offenders_are_blocked_for_a_while(setup: Setup) -> None:
    quota = {"name": "burst", "limit": 1, "window": 10, "routes": ["/shops"]}
    client, _ = setup.client([quota], quotas={"penalty": {"strikes": 3, "within": 60, "block": 300}})
    async with client:
        assert (await client.get("/shops", headers=KEY_A)).status_code == 200
        for _ in range(3):
            assert (await client.get("/shops", headers=KEY_A)).status_code == 429
        setup.clock.advance(30)  # the rate has long refilled, the block has not
        blocked = await client.get("/shops", headers=KEY_A)
        assert blocked.status_code == 429
        assert blocked.json()["type"].endswith("/temporarily-blocked")
        assert int(blocked.headers["retry-after"]) > 200
        setup.clock.advance(300)
        assert (await client.get("/shops", headers=KEY_A)).status_code == 200


async def test_coarse_headers_hide_the_exact_count(setup: Setup) -> None:
    quota = {"name": "hourly", "limit": 100, "window": 3600, "routes": ["/shops"]}
    client, _ = setup.client([quota], quotas={"headers": "always", "coarse_headers": True})
    async with client:
        for _ in range(3):
            response = await client.get("/shops", headers=KEY_A)
    assert response.headers["ratelimit"] == '"hourly";r=90;t=360'


# --- store outages ----------------------------------------------------------------------------


def unreachable_store(clock: FrozenClock) -> QuotaStore:
    """A Redis store on a loopback port nothing listens on, behind the resilient wrapper."""
    return ResilientStore(
        RedisStore(url="redis://127.0.0.1:1/0", clock_from_client_for_tests=clock),
        MemoryStore(clock=clock),
        timeout=0.5,
        clock=clock,
    )


@pytest.mark.parametrize("outage", ["closed", "open"])
async def test_store_outage_fails_closed_or_uses_the_local_fallback(outage: str) -> None:
    clock = FrozenClock()
    quota = {"name": "burst", "limit": 2, "window": 60, "routes": ["/shops"], "outage": outage}
    app = build_app()
    shielded = ShieldMiddleware(
        app, Policy.from_dict({"quota": [quota]}), quota_store=unreachable_store(clock), clock=clock
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shielded), base_url="http://t") as client:
        statuses = [(await client.get("/shops", headers=KEY_A)).status_code for _ in range(3)]
    if outage == "closed":
        assert statuses == [503, 503, 503]
        assert app.state.calls == 0
    else:
        assert statuses == [200, 200, 429]  # the bounded local limiter still holds the line


async def test_quotas_count_requests_that_name_a_sealed_id(setup: Setup) -> None:
    """``/users/{user_id:int}`` must match ``/users/<token>``: quotas run before IDs are opened."""
    policy = {
        "tokens": {"secrets": ["a token secret of at least thirty-two bytes, for tests"]},
        "route": [
            {"path": "/users", "seal": [{"field": "items[*].id", "kind": "user"}]},
            {"path": "/users/{user_id:int}", "unseal": [{"param": "user_id", "kind": "user"}]},
        ],
    }
    quota = {"name": "profiles", "limit": 2, "window": 60, "routes": ["/users/{user_id:int}"], "per": ["api_key"]}
    client, _ = setup.client([quota], **policy)
    async with client:
        sealed = [user["id"] for user in (await client.get("/users?limit=3", headers=KEY_A)).json()["items"]]
        assert (await client.get(f"/users/{sealed[0]}", headers=KEY_A)).status_code == 200
        assert (await client.get(f"/users/{sealed[1]}", headers=KEY_A)).status_code == 200
        limited(await client.get(f"/users/{sealed[2]}", headers=KEY_A), "profiles")


# --- lifespan --------------------------------------------------------------------------------


async def run_lifespan(app: ShieldMiddleware) -> list[Message]:
    """Start and shut down ``app`` as a server does; what the app sent back."""
    inbox: list[Message] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent


@pytest.mark.parametrize("passed_in", [False, True])
async def test_the_store_the_middleware_built_is_closed_at_shutdown(passed_in: bool) -> None:
    """Its own store (Redis connections) is closed after the app shut down; one passed in stays open."""
    own = MemoryStore()
    policy = Policy.from_dict({"quota": [{"name": "burst", "limit": 5, "window": 60, "routes": ["/users"]}]})
    shielded = ShieldMiddleware(build_app(), policy, quota_store=own if passed_in else None)
    assert shielded._quotas is not None
    store = shielded._quotas.store
    assert isinstance(store, MemoryStore)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shielded), base_url="http://t") as client:
        assert (await client.get("/users", headers=KEY_A)).status_code == 200
    assert len(store) > 0
    sent = await run_lifespan(shielded)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert (len(store) > 0) is passed_in  # MemoryStore.aclose() forgets everything
