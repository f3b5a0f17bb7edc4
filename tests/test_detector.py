"""The enumeration detector: crawlers are flagged, slowed and blocked; ordinary users are not.

A real FastAPI app (tests/paging_apps.py) behind shield with the detector on, time from a frozen
clock; the memory store, a real Redis and a Redis Cluster (the detector keeps its scores where the
quotas live).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest
from asgi_client import client_for
from clocks import FrozenClock
from paging_apps import build_paging_app, paging_policy, viewer_from_header
from redis_backends import BACKENDS, redis_store

from shield import Policy, ShieldMiddleware
from shield.metrics import ShieldMetrics
from shield.monitor import EVENT_LOGGER
from shield.quotas import MemoryStore, QuotaStore

pytestmark = pytest.mark.anyio

DETECTOR = {
    "enabled": True,
    "window": 3600,
    "flag": 30,
    "slow": 60,
    "slow_seconds": 0.01,
    "block": 100,
    "block_seconds": 600,
    "points": {"token_failure": 10, "raw_parameter": 10, "deep_page": 2, "deep_after": 10},
}


@pytest.fixture(params=["memory", *BACKENDS])
async def store(request: pytest.FixtureRequest, clock: FrozenClock) -> AsyncIterator[QuotaStore]:
    if request.param == "memory":
        yield MemoryStore(clock=clock)
        return
    async with redis_store(request, request.param, clock) as on_redis:
        yield on_redis


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def shielded(store: QuotaStore, clock: FrozenClock, metrics: ShieldMetrics | None = None) -> ShieldMiddleware:
    policy = Policy.from_dict(paging_policy(detector=DETECTOR))
    return ShieldMiddleware(
        build_paging_app(), policy, viewer=viewer_from_header, quota_store=store, metrics=metrics, clock=clock
    )


def escalations(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        json.loads(record.getMessage())["level"]
        for record in caplog.records
        if record.name == EVENT_LOGGER and '"shield.escalated"' in record.getMessage()
    ]


async def test_a_sequential_id_prober_is_flagged_slowed_then_blocked(
    store: QuotaStore, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=EVENT_LOGGER)
    metrics = ShieldMetrics()
    crawler = {"x-user": "crawler"}
    statuses = []
    async with client_for(shielded(store, clock, metrics)) as client:
        for user_id in range(100001, 100021):
            statuses.append((await client.get(f"/users/{user_id}", headers=crawler)).status_code)
            clock.advance(1)
        blocked = await client.get("/users", headers=crawler)  # even a harmless request, now
        clock.advance(601)
        released = await client.get("/users", headers=crawler)
    # 10 points per probe: flag at 30 (3rd), slow at 60 (6th); the 11th would pass 100: blocked.
    assert statuses[:11] == [400] * 11
    assert set(statuses[11:]) == {429}
    assert escalations(caplog) == ["flag", "slow", "block"]
    assert blocked.status_code == 429
    assert blocked.json()["type"].endswith("/abnormal-usage-detected")
    assert 590 <= int(blocked.headers["retry-after"]) <= 600
    assert released.status_code == 200
    text = metrics.exposition().decode()
    assert 'shield_detector_escalations_total{level="block",route="/users/{user_id:int}"} 1.0' in text
    assert 'shield_requests_total{decision="limited",route="/users/{user_id:int}"} 9.0' in text


async def test_a_deep_crawl_is_flagged(store: QuotaStore, clock: FrozenClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=EVENT_LOGGER)
    crawler = {"x-user": "walker"}
    seen = []
    async with client_for(shielded(store, clock)) as client:
        link: str | None = "/items?limit=5"
        while link and len(seen) < 30:
            response = await client.get(link, headers=crawler)
            assert response.status_code == 200
            seen.append(response)
            link = response.json().get("next")
            clock.advance(2)
    # Depth counts cursors walked (page 2 has depth 1): pages 12.. are past deep_after (10),
    # 2 points each; the flag (30) comes with the 26th page, and nothing is refused.
    assert escalations(caplog) == ["flag"]


async def test_ordinary_users_are_never_flagged(
    store: QuotaStore, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    """50 people browsing: a list, a few pages, a few profiles through the links they were given."""
    caplog.set_level(logging.INFO, logger=EVENT_LOGGER)
    async with client_for(shielded(store, clock)) as client:
        for person in range(50):
            headers = {"x-user": f"person-{person}"}
            link: str | None = "/items?limit=20"
            for _ in range(1 + person % 4):
                body = (await client.get(link, headers=headers)).json()
                link = body["next"]
                clock.advance(7)
            users = (await client.get("/users", headers=headers)).json()["users"]
            for user in users[person % 5 : person % 5 + 3]:
                assert (await client.get(f"/users/{user['id']}", headers=headers)).status_code == 200
                clock.advance(11)
    assert escalations(caplog) == []
    assert not any(record.name == EVENT_LOGGER for record in caplog.records)  # not even a refusal


@pytest.mark.parametrize(("per", "flagged"), [(["network"], []), (["user"], ["flag"])])
async def test_quota_refusals_score_only_against_the_callers_own_budget(
    store: QuotaStore, clock: FrozenClock, caplog: pytest.LogCaptureFixture, per: list[str], flagged: list[str]
) -> None:
    """People behind one busy address are not blamed for the address's budget running out."""
    caplog.set_level(logging.INFO, logger=EVENT_LOGGER)
    quota = {"name": "feed", "limit": 2, "window": 3600, "routes": ["/feed"], "per": per}
    detector = {**DETECTOR, "points": {"quota_refusal": 15}}
    policy = Policy.from_dict(paging_policy(detector=detector, quota=[quota]))
    app = ShieldMiddleware(build_paging_app(), policy, viewer=viewer_from_header, quota_store=store, clock=clock)
    async with client_for(app) as client:
        statuses = [(await client.get("/feed", headers={"x-user": "same-person"})).status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]  # two refusals: 30 points if they count
    assert escalations(caplog) == flagged
