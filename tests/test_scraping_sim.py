"""The scraping simulation's building blocks (``benchmarks/scrapers.py``, ``benchmarks/simulation.py``).

Small and fast: a 1,000-user demo API, a records budget lowered to 300 an hour so quotas bite
within a few pages, and simulated time.
"""

from __future__ import annotations

import ipaddress
import math
import tomllib
from importlib import resources

import pytest
from starlette.types import Message, Receive, Scope, Send

from benchmarks.scrapers import (
    CLIENT_HEADER,
    ApiKeys,
    CursorRelay,
    FixedPeer,
    IdWalker,
    ListCrawler,
    PeerPerSlot,
    Presenter,
    RotatingIPv6,
    SpoofedForwardedFor,
)
from benchmarks.simulation import (
    DAY,
    HORIZON_DAYS,
    Limits,
    RunResult,
    SeededPhones,
    SimulatedClock,
    SimulationEdge,
    build_target,
    extrapolate,
    simulate,
)
from shield.demo.app import create_app
from shield.demo.data import users
from shield.policy import Policy

USERS = 1000
BUDGET = 300  # records an hour, instead of the demo's 5000
PEOPLE = users(USERS)
PHONES = SeededPhones(PEOPLE)
APP = create_app(USERS)
LIMITS = Limits(max_requests=400, days=0.5)


def tight_policy() -> Policy:
    """The demo policy with a fixed secret and a records budget of ``BUDGET`` an hour."""
    text = resources.files("shield.demo").joinpath("policy.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    data["tokens"]["secrets"] = ["scraping-simulation-test-secret-0123456789"]
    for quota in data["quota"]:
        if quota["name"] == "records-hourly":
            quota["limit"] = BUDGET
    return Policy.from_dict(data)


async def run(scraper: ListCrawler | IdWalker | CursorRelay, *, protected: bool) -> RunResult:
    clock = SimulatedClock()
    target = build_target(APP, clock, tight_policy() if protected else None)
    return await simulate(scraper, target, clock, PHONES, LIMITS)


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


@pytest.mark.anyio
async def test_rotating_api_keys_share_the_network_budget() -> None:
    keys = ApiKeys([f"key-{n}" for n in range(10)], "198.51.100.9")
    result = await run(ListCrawler("keys", keys, slots=10), protected=True)
    assert result.records <= BUDGET
    assert result.clear_phones == 0
    assert result.problems["400 parameter-refused"] == 1  # it learns offsets beyond page 1 are refused
    assert result.statuses[429] > 0


@pytest.mark.anyio
async def test_sequential_ids_get_nothing_behind_shield() -> None:
    result = await run(IdWalker("ids", FixedPeer("198.51.100.8"), count=50), protected=True)
    assert (result.records, result.clear_phones, result.requests) == (0, 0, 50)
    assert result.problems == {"400 token-invalid": 50}
    assert result.phones_extrapolation is not None
    assert result.phones_extrapolation.why_never == "none obtained"


@pytest.mark.anyio
async def test_shared_cursors_are_refused_to_other_identities() -> None:
    relay = CursorRelay("relay", PeerPerSlot(["203.0.113.10", "203.0.113.11", "203.0.113.12"]), slots=3)
    result = await run(relay, protected=True)
    assert result.records == BUDGET
    assert result.clear_phones == 0
    assert result.problems["400 token-invalid"] > 0
    assert result.statuses[200] * 2 <= result.problems["400 token-invalid"] + 2  # both others fail each page


@pytest.mark.anyio
async def test_shared_cursors_work_unprotected() -> None:
    relay = CursorRelay("relay", PeerPerSlot(["203.0.113.10", "203.0.113.11"]), slots=2)
    result = await run(relay, protected=False)
    assert (result.records, result.clear_phones, result.requests) == (USERS, USERS, 10)
