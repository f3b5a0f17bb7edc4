"""The scraping simulation's building blocks (``benchmarks/scrapers.py``, ``benchmarks/simulation.py``).

Small and fast: a 1,000-user demo API, a records budget lowered to 300 an hour so quotas bite
within a few pages, and simulated time. The demo policy's enumeration detector is on (its
``slow_seconds`` lowered by ``build_target``, see ``simulation_policy``).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import tomllib
from collections import Counter
from importlib import resources
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from benchmarks.scrapers import (
    CLIENT_HEADER,
    ApiKeys,
    CursorRelay,
    FixedPeer,
    IdWalker,
    ListCrawler,
    OrdinaryUsers,
    PeerPerSlot,
    Planned,
    Presenter,
    Reply,
    RotatingIPv6,
    SpoofedForwardedFor,
)
from benchmarks.simulation import (
    DAY,
    HORIZON_DAYS,
    SIMULATED_SLOW_SECONDS,
    DetectorTrace,
    Limits,
    Milestone,
    RunResult,
    SeededPhones,
    SimulatedClock,
    SimulationEdge,
    build_target,
    capture_events,
    extrapolate,
    simulate,
)
from shield.demo.app import create_app
from shield.demo.data import users
from shield.monitor import EVENT_LOGGER
from shield.policy import Policy

USERS = 1000
BUDGET = 300  # records an hour, instead of the demo's 5000
PEOPLE = users(USERS)
PHONES = SeededPhones(PEOPLE)
APP = create_app(USERS)
LIMITS = Limits(max_requests=400, days=0.5)


def demo_policy_data() -> dict[str, Any]:
    """The demo policy file as data, with a fixed secret."""
    text = resources.files("shield.demo").joinpath("policy.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    data["tokens"]["secrets"] = ["scraping-simulation-test-secret-0123456789"]
    return data


def tight_policy() -> Policy:
    """The demo policy with a fixed secret and a records budget of ``BUDGET`` an hour."""
    data = demo_policy_data()
    for quota in data["quota"]:
        if quota["name"] == "records-hourly":
            quota["limit"] = BUDGET
    return Policy.from_dict(data)


DETECTOR = tight_policy().detector


async def run(scraper: ListCrawler | IdWalker | CursorRelay, *, protected: bool, limits: Limits = LIMITS) -> RunResult:
    clock = SimulatedClock()
    target = build_target(APP, clock, tight_policy() if protected else None)
    return await simulate(scraper, target, clock, PHONES, limits)


def trace_of(result: RunResult) -> DetectorTrace:
    assert result.detector is not None
    return result.detector


def test_the_demo_policy_has_the_detector_on() -> None:
    # What the expectations below are derived from.
    assert DETECTOR.enabled
    assert (DETECTOR.flag, DETECTOR.slow, DETECTOR.block, DETECTOR.token_failure) == (50, 100, 200, 10)
    assert DETECTOR.slow_seconds == 0.5


def test_extrapolation_formula() -> None:
    # 1,000 records by 2 identities in half a day: 1,000 per identity per day.
    found = extrapolate(1000, 2, DAY / 2, target=1_100_000)
    assert found.rate == pytest.approx(1000)
    assert found.identity_days == pytest.approx(1100)
    assert found.days == pytest.approx(550)
    assert found.identities_for_horizon == math.ceil(1100 / HORIZON_DAYS)
    assert extrapolate(0, 1, DAY).identity_days is None
    stalled = extrapolate(5, 1, DAY, stalled=True)
    assert (stalled.rate, stalled.identity_days) == (5, None)
    assert stalled.why_never is not None
    with pytest.raises(ValueError, match="positive"):
        extrapolate(5, 1, 0.0)


def test_seeded_phones_counts_exact_numbers_only() -> None:
    phone = PEOPLE[0]["phone"]
    body = f'{{"a":"{phone}","b":"{phone[:3]}****{phone[7:]}","c":"9{PEOPLE[1]["phone"]}","d":{PEOPLE[2]["phone"]}}}'
    assert PHONES.in_clear(body.encode()) == {phone.encode(), PEOPLE[2]["phone"].encode()}


@pytest.mark.anyio
async def test_edge_sets_the_peer_and_hides_its_header() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        return None

    headers = [(CLIENT_HEADER.encode(), b"2001:db8::7"), (b"x-api-key", b"k")]
    await SimulationEdge(app)({"type": "http", "headers": headers, "client": ("127.0.0.1", 1)}, receive, send)
    assert seen[0]["client"][0] == "2001:db8::7"
    assert seen[0]["headers"] == [(b"x-api-key", b"k")]


@pytest.mark.anyio
async def test_naive_crawler_gets_everything_unprotected() -> None:
    result = await run(ListCrawler("naive", FixedPeer("198.51.100.7")), protected=False)
    assert (result.records, result.clear_phones, result.requests, result.stop) == (USERS, USERS, 10, "complete")


@pytest.mark.parametrize(
    "present",
    [
        FixedPeer("198.51.100.7"),
        RotatingIPv6(ipaddress.IPv6Network("2001:db8:1:2::/64")),
        SpoofedForwardedFor("198.51.100.7"),
    ],
    ids=["one-address", "rotating-ipv6", "spoofed-xff"],
)
@pytest.mark.anyio
async def test_list_crawlers_stall_at_one_budget_behind_shield(present: Presenter) -> None:
    result = await run(ListCrawler("crawler", present), protected=True)
    assert result.records == BUDGET  # every walk restarts at the first page
    assert result.clear_phones == 0
    assert result.statuses[429] > 0
    assert result.statuses[410] > 0  # cursors expired while the budget refilled
    assert result.stop == "time limit"
    assert result.stalled
    assert result.records_extrapolation is not None
    assert result.records_extrapolation.identity_days is None
    # Contained by the records budget: 3 pages an hour score far below the detector's flag.
    assert trace_of(result).escalations == {}


@pytest.mark.anyio
async def test_rotating_api_keys_share_the_network_budget() -> None:
    keys = ApiKeys([f"key-{n}" for n in range(10)], "198.51.100.9")
    result = await run(ListCrawler("keys", keys, slots=10), protected=True)
    assert result.records <= BUDGET
    assert result.clear_phones == 0
    assert result.problems["400 parameter-refused"] == 1  # it learns offsets beyond page 1 are refused
    assert result.statuses[429] > 0


def test_build_target_lowers_the_detectors_delay() -> None:
    target = build_target(APP, SimulatedClock(), tight_policy())
    assert target.policy is not None
    assert target.detector
    assert target.policy.detector.slow_seconds == SIMULATED_SLOW_SECONDS
    assert target.slow_seconds == DETECTOR.slow_seconds  # what the report says the policy asks for
    assert target.policy.detector.block == DETECTOR.block  # nothing else changes
    assert not build_target(APP, SimulatedClock(), None).detector


def test_capture_events_restores_the_logger() -> None:
    logger = logging.getLogger(EVENT_LOGGER)
    level, handlers = logger.level, list(logger.handlers)
    with capture_events() as log:
        assert logger.isEnabledFor(logging.INFO)
        logger.info("x", extra={"shield_event": {"event": "shield.refused"}})
        logger.info("not an event")
        assert log.take() == [{"event": "shield.refused"}]
        assert log.take() == []
    assert (logger.level, logger.handlers) == (level, handlers)


def test_detector_trace_reads_the_ladder() -> None:
    trace = DetectorTrace(slow_seconds=0.5, slow_seconds_used=0.0)
    trace.record({"event": "shield.refused", "kind": "token"}, Milestone(1, 0.0, 0))
    trace.record({"event": "shield.escalated", "level": "slow"}, Milestone(4, 0.3, 1))  # flag skipped
    trace.record({"event": "shield.escalated", "level": "block"}, Milestone(9, 0.8, 1))
    trace.record({"event": "shield.refused", "kind": "detector"}, Milestone(10, 0.9, 1))
    assert trace.first == {"flag": Milestone(4, 0.3, 1), "slow": Milestone(4, 0.3, 1), "block": Milestone(9, 0.8, 1)}
    assert trace.blocked == Milestone(9, 0.8, 1)
    assert trace.first_refusal == Milestone(10, 0.9, 1)
    assert (trace.identities("flag"), trace.identities("block"), trace.refusals) == (1, 1, 1)
    assert trace.slow_time_bound(trace.blocked) == pytest.approx(5 * 0.5)  # requests 5 to 9 may have waited


@pytest.mark.anyio
async def test_id_prober_is_flagged_slowed_then_blocked() -> None:
    # Step by step, on the wire: every raw ID is refused (10 points each); the block comes with
    # the probe that would take the score past 200, and the next request is refused outright.
    flag_at = math.ceil(DETECTOR.flag / DETECTOR.token_failure)  # 5
    slow_at = math.ceil(DETECTOR.slow / DETECTOR.token_failure)  # 10
    block_at = DETECTOR.block // DETECTOR.token_failure + 1  # 21
    target = build_target(APP, SimulatedClock(), tight_policy())
    levels: list[tuple[int, str]] = []
    headers = {CLIENT_HEADER: "198.51.100.8"}
    with capture_events() as log:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=target.app), base_url="http://t") as client:
            for probe in range(1, block_at + 1):
                response = await client.get(f"/users/{100_000 + probe}", headers=headers)
                assert response.status_code == 400
                assert response.json()["type"].endswith("/token-invalid")
                levels += [(probe, e["level"]) for e in log.take() if e["event"] == "shield.escalated"]
            blocked = await client.get("/users/100000", headers=headers)
            refused = log.take()
    assert levels == [(flag_at, "flag"), (slow_at, "slow"), (block_at, "block")]
    assert blocked.status_code == 429
    assert blocked.json()["type"].endswith("/abnormal-usage-detected")
    assert blocked.headers["retry-after"] == str(int(DETECTOR.block_seconds))
    assert [(e["event"], e["kind"], e["status"]) for e in refused] == [("shield.refused", "detector", 429)]


@pytest.mark.anyio
async def test_sequential_ids_get_nothing_behind_shield() -> None:
    block_at = DETECTOR.block // DETECTOR.token_failure + 1
    result = await run(IdWalker("ids", FixedPeer("198.51.100.8"), count=50), protected=True)
    trace = trace_of(result)
    assert (result.records, result.clear_phones, result.stop) == (0, 0, "complete")
    assert result.phones_extrapolation is not None
    assert result.phones_extrapolation.why_never == "none obtained"
    # 400s, then blocked: 429 abnormal-usage-detected, waited out (an hour), then probes again.
    assert result.problems["400 token-invalid"] == 50  # the walker moves on after each one
    assert trace.first["flag"].requests == 5
    assert trace.first["slow"].requests == 10
    assert trace.blocked == trace.first["block"]
    assert trace.blocked.requests == block_at
    assert trace.blocked.simulated_seconds == pytest.approx((block_at - 1) * LIMITS.pace)
    assert trace.first_refusal is not None
    assert trace.first_refusal.requests == block_at + 1
    assert trace.slow_time_bound(trace.blocked) == pytest.approx((block_at - 10) * (0.5 - SIMULATED_SLOW_SECONDS))
    # Each block costs the walker exactly one 429 and an hour: it waits for the Retry-After.
    blocks = trace.escalations["block"]
    assert blocks >= 2
    assert result.problems == {"400 token-invalid": 50, "429 abnormal-usage-detected": blocks}
    assert trace.refusals == blocks
    assert result.simulated_seconds > (blocks - 1) * DETECTOR.block_seconds
    assert trace.reached == {0: 2}


@pytest.mark.anyio
async def test_shared_cursors_are_refused_to_other_identities() -> None:
    relay = CursorRelay("relay", PeerPerSlot(["203.0.113.10", "203.0.113.11", "203.0.113.12"]), slots=3)
    result = await run(relay, protected=True)
    assert result.records == BUDGET
    assert result.clear_phones == 0
    assert result.problems["400 token-invalid"] > 0
    assert result.statuses[200] * 2 <= result.problems["400 token-invalid"] + 2  # both others fail each page
    # The records budget paces the relay to 3 pages an hour: 2 refused cursors (20 points) an
    # hour per identity stay under the flag.
    assert trace_of(result).escalations == {}


@pytest.mark.anyio
async def test_shared_cursors_get_every_identity_blocked_at_the_demo_budget() -> None:
    # With the demo's 5,000 records an hour (and 10,000 users, so the walk is long enough) the
    # relay is not paced: every page costs the identities that did not get it 10 points each,
    # and all three are blocked within seconds.
    relay = CursorRelay("relay", PeerPerSlot(["203.0.113.10", "203.0.113.11", "203.0.113.12"]), slots=3)
    clock = SimulatedClock()
    target = build_target(create_app(10 * USERS), clock, Policy.from_dict(demo_policy_data()))
    result = await simulate(relay, target, clock, PHONES, Limits(max_requests=300, days=0.5))
    trace = trace_of(result)
    assert trace.identities("block") == 3
    assert trace.blocked is not None
    assert trace.blocked.requests < 100
    assert trace.blocked.simulated_seconds < 10
    assert result.problems["429 abnormal-usage-detected"] == trace.refusals > 0


@pytest.mark.anyio
async def test_shared_cursors_work_unprotected() -> None:
    relay = CursorRelay("relay", PeerPerSlot(["203.0.113.10", "203.0.113.11"]), slots=2)
    result = await run(relay, protected=False)
    assert (result.records, result.clear_phones, result.requests) == (USERS, USERS, 10)


@pytest.mark.anyio
async def test_ordinary_users_are_not_flagged() -> None:
    crowd = OrdinaryUsers("people", 100)
    clock = SimulatedClock()
    target = build_target(APP, clock, Policy.from_dict(demo_policy_data()))  # the demo's own budgets
    result = await simulate(crowd, target, clock, PHONES, Limits(max_requests=100_000, days=3))
    trace = trace_of(result)
    assert result.stop == "complete"
    assert DAY / 2 < result.simulated_seconds < 2 * DAY
    assert crowd.sessions >= 100
    assert result.requests >= 6 * crowd.sessions // 2  # /me, a page, profiles, next links...
    assert result.statuses[200] > 0.99 * result.requests
    # Nobody is flagged, and the only refusals are the pages left open past the cursor lifetime.
    assert (trace.reached, trace.escalations, trace.refusals) == ({}, {}, 0)
    assert crowd.stale_clicks > 0
    assert crowd.refusals == {"next: 410 token-expired": crowd.stale_clicks}
    assert sum(crowd.refused.values()) == crowd.stale_clicks


@pytest.mark.anyio
async def test_ordinary_users_browse_through_what_they_are_given() -> None:
    crowd = OrdinaryUsers("people", 3, stale_share=0.0)
    seen: list[str] = []
    clock = SimulatedClock()
    target = build_target(APP, clock, tight_policy())
    result = await simulate(_Recording(crowd, seen), target, clock, PHONES, Limits(max_requests=1000, days=3))
    assert result.stop == "complete"
    assert set(result.statuses) == {200}
    assert crowd.sessions <= seen.count("/me") <= 2 * crowd.sessions
    assert seen[0] == "/me"
    kinds = Counter(_kind(url) for url in seen)
    assert set(kinds) <= {"me", "first page", "next", "sealed profile"}
    assert kinds["first page"] == crowd.sessions  # nothing refused: each session lists once
    assert kinds["next"] > 0
    assert kinds["sealed profile"] > 0


def _kind(url: str) -> str:
    if url == "/me":
        return "me"
    if re.fullmatch(r"/(users|comments)\?limit=20", url):
        return "first page"
    if re.fullmatch(r"/(users|comments)\?[^/]*cursor=[-\w]+[^/]*", url):
        return "next"
    if re.fullmatch(r"/users/[-\w]{20,}", url) and not url.removeprefix("/users/").isdigit():
        return "sealed profile"
    return url


class _Recording:
    """An ``OrdinaryUsers`` whose requests are written down."""

    def __init__(self, crowd: OrdinaryUsers, seen: list[str]) -> None:
        self.crowd, self.seen = crowd, seen
        self.name, self.identities, self.finished = crowd.name, crowd.identities, crowd.finished

    def plan(self, now: float) -> Planned | float:
        planned = self.crowd.plan(now)
        if isinstance(planned, Planned):
            self.seen.append(planned.url)
        self.finished = self.crowd.finished
        return planned

    def observe(self, planned: Planned, reply: Reply, now: float) -> None:
        self.crowd.observe(planned, reply, now)
        self.finished = self.crowd.finished
