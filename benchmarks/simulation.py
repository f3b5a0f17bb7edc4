"""The harness of the scraping simulation: simulated time, the targets, measurement, extrapolation.

Requests go in-process through ``httpx.ASGITransport``, one at a time. Time is **simulated**:
one clock drives shield's tokens and quota store, and the driver moves it by the scraper's
pacing after each request and jumps it forward when every identity of a scraper is resting
(``Retry-After``), so days pass in seconds of wall time.

What a scraper obtained is measured from ground truth, not from what it could work out:

- **records**: the raw user IDs the app answered with (seen by ``RecordSpy``, between shield and
  the app), counted only when the client got a 2xx carrying that many records;
- **phones in clear**: seeded phone numbers whose exact 11 digits appear in a response body.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from benchmarks.scrapers import CLIENT_HEADER, Planned, Reply, Scraper
from shield.demo.app import DemoHeaderAuth
from shield.middleware import ShieldMiddleware
from shield.policy import Policy
from shield.quotas import MemoryStore

__all__ = [
    "DAY",
    "TARGET_RECORDS",
    "Extrapolation",
    "Limits",
    "RecordSpy",
    "RunResult",
    "SeededPhones",
    "SimulatedClock",
    "SimulationEdge",
    "Target",
    "build_target",
    "extrapolate",
    "simulate",
]

DAY = 86_400.0
TARGET_RECORDS = 1_100_000_000  # what the Taobao crawler took, 2019-2020
HORIZON_DAYS = 243  # about eight months: how long it took
_CLIENT_HEADER = CLIENT_HEADER.encode()
_CLIENT_PORT = 40_000
_ELEVEN_DIGITS = re.compile(rb"(?<![0-9])[0-9]{11}(?![0-9])")


class SimulatedClock:
    """Callable like :func:`time.time`; moves only when the driver moves it."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SimulationEdge:
    """The outermost layer: gives each request the TCP peer its ``x-sim-client`` header names.

    ``httpx.ASGITransport`` fixes one client address per transport; a rotating scraper needs
    one per request. The header is removed before anything else sees the request.
    """

    def __init__(self, app: ASGIApp, default: str = "198.51.100.7") -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = self.default
            headers = []
            for name, value in scope["headers"]:
                if name == _CLIENT_HEADER:
                    host = value.decode("latin-1")
                else:
                    headers.append((name, value))
            scope = {**scope, "headers": headers, "client": (host, _CLIENT_PORT)}
        await self.app(scope, receive, send)


class RecordSpy:
    """Around the app, inside shield: the raw user IDs of the app's last 2xx JSON answer.

    The ground truth for "records obtained" (the client sees sealed, viewer-scoped IDs). The
    driver sends one request at a time, so the last answer is the one just received. Bytes
    pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.last_ids: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        chunks: list[bytes] = []

        async def spy(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        self.last_ids = []
        await self.app(scope, receive, spy)
        if 200 <= status < 300:
            self.last_ids = record_ids(orjson.loads(b"".join(chunks)))


def record_ids(document: Any) -> list[int]:
    """The IDs of a list page (``items[*].id``) or of one record (``id``)."""
    if isinstance(document, dict):
        items = document.get("items")
        if isinstance(items, list):
            return [item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), int)]
        if isinstance(document.get("id"), int):
            return [document["id"]]
    return []


class SeededPhones:
    """The seeded phone numbers; finds those a body holds in clear (all 11 digits, exactly)."""

    def __init__(self, people: Iterable[Mapping[str, Any]]) -> None:
        self._phones = frozenset(person["phone"].encode() for person in people)

    def __len__(self) -> int:
        return len(self._phones)

    def in_clear(self, body: bytes) -> set[bytes]:
        return {match for match in _ELEVEN_DIGITS.findall(body) if match in self._phones}


@dataclass(frozen=True, slots=True)
class Target:
    """An app to scrape, as the driver calls it, and the spy that sees what it answered."""

    app: ASGIApp
    spy: RecordSpy
    protected: bool


def build_target(inner: ASGIApp, clock: SimulatedClock, policy: Policy | None) -> Target:
    """The demo app as is (``policy`` None), or as ``create_protected_app`` builds it.

    Protected: ``AuthenticationMiddleware(ShieldMiddleware(app, policy))`` with a fresh
    in-memory quota store, both on the simulated ``clock``.
    """
    spy = RecordSpy(inner)
    if policy is None:
        return Target(SimulationEdge(spy), spy, protected=False)
    store = MemoryStore(clock, max_keys=policy.quotas.max_keys)
    shielded = ShieldMiddleware(spy, policy, quota_store=store, clock=clock)
    return Target(SimulationEdge(AuthenticationMiddleware(shielded, backend=DemoHeaderAuth())), spy, protected=True)


@dataclass(frozen=True, slots=True)
class Limits:
    max_requests: int = 20_000
    days: float = 7.0
    pace: float = 0.1  # simulated seconds between two requests of one scraper


@dataclass(frozen=True, slots=True)
class Extrapolation:
    """How many identity-days a scraper needs for ``TARGET_RECORDS``; None means never (``why_never``).

    ``rate`` = found / (identities x simulated days), per identity per day (linear: it assumes
    each added identity gets as much as the measured ones).
    ``identity_days`` = TARGET / rate; ``days`` = identity_days / identities (with the
    scraper's own identities); ``identities_for_horizon`` = ceil(identity_days / HORIZON_DAYS).
    """

    rate: float | None
    identity_days: float | None
    days: float | None
    identities_for_horizon: int | None
    why_never: str | None = None


def extrapolate(
    found: int, identities: int, simulated_seconds: float, *, stalled: bool = False, target: int = TARGET_RECORDS
) -> Extrapolation:
    """Linear extrapolation of a measured rate to ``target`` records (see :class:`Extrapolation`)."""
    if found <= 0:
        return Extrapolation(None, None, None, None, "none obtained")
    if identities <= 0 or simulated_seconds <= 0:
        raise ValueError("identities and simulated time must be positive")
    rate = found / identities / (simulated_seconds / DAY)
    if stalled:  # more time would not help: the rate is an average over a run that stopped growing
        return Extrapolation(rate, None, None, None, "stalled: nothing new in the second half of the run")
    identity_days = target / rate
    return Extrapolation(rate, identity_days, identity_days / identities, math.ceil(identity_days / HORIZON_DAYS))


@dataclass
class RunResult:
    scraper: str
    api: str
    identities: int
    records: int = 0
    clear_phones: int = 0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    simulated_seconds: float = 0.0
    wall_seconds: float = 0.0
    stop: str = ""
    last_new_record_at: float = 0.0  # simulated seconds since the start
    records_extrapolation: Extrapolation | None = None
    phones_extrapolation: Extrapolation | None = None

    @property
    def stalled(self) -> bool:
        """Ran out of time or requests with nothing new over the second half of its run."""
        return self.stop != "complete" and self.last_new_record_at < self.simulated_seconds / 2

    def refused(self, status: int) -> int:
        return self.statuses.get(status, 0)


async def simulate(
    scraper: Scraper, target: Target, clock: SimulatedClock, phones: SeededPhones, limits: Limits
) -> RunResult:
    """Run ``scraper`` against ``target`` until it is done, or out of requests or simulated time."""
    result = RunResult(scraper.name, "protected" if target.protected else "unprotected", scraper.identities)
    users: set[int] = set()
    clear: set[bytes] = set()
    start, wall = clock.now, time.perf_counter()
    deadline = start + limits.days * DAY
    transport = httpx.ASGITransport(app=target.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo.test") as client:
        while True:
            if scraper.finished:
                result.stop = "complete"
                break
            if result.requests >= limits.max_requests:
                result.stop = "request limit"
                break
            step = scraper.plan(clock.now)
            if not isinstance(step, Planned):
                if step <= clock.now:
                    raise RuntimeError(f"{scraper.name} waits for a moment that has passed")
                clock.now = min(step, deadline)
            if clock.now >= deadline:
                result.stop = "time limit"
                break
            if not isinstance(step, Planned):
                continue
            response = await client.get(step.url, headers=step.headers)
            reply = _reply(response)
            result.requests += 1
            result.statuses[reply.status] += 1
            if reply.problem:
                result.problems[f"{reply.status} {reply.problem}"] += 1
            if 200 <= reply.status < 300:
                ids = target.spy.last_ids
                if len(ids) != reply.items:
                    raise RuntimeError(f"{step.url}: the client got {reply.items} records, the app sent {len(ids)}")
                before = len(users)
                users.update(ids)
                if len(users) > before:
                    result.last_new_record_at = clock.now - start
            clear |= phones.in_clear(response.content)
            scraper.observe(step, reply, clock.now)
            clock.advance(limits.pace)
    result.records, result.clear_phones = len(users), len(clear)
    result.simulated_seconds = clock.now - start
    result.wall_seconds = time.perf_counter() - wall
    result.records_extrapolation = extrapolate(
        result.records, result.identities, result.simulated_seconds, stalled=result.stalled
    )
    result.phones_extrapolation = extrapolate(result.clear_phones, result.identities, result.simulated_seconds)
    return result


def _reply(response: httpx.Response) -> Reply:
    retry = response.headers.get("retry-after")
    content_type = response.headers.get("content-type", "")
    document: Any = None
    if "json" in content_type:
        document = orjson.loads(response.content)
    problem = None
    if content_type.startswith("application/problem+json") and isinstance(document, dict):
        problem = str(document.get("type", "")).rsplit("/", 1)[-1]
    items, next_link = 0, None
    if response.is_success and isinstance(document, dict):
        listed = document.get("items")
        items = len(listed) if isinstance(listed, list) else 1
        following = document.get("next")
        next_link = following if isinstance(following, str) else None
    return Reply(response.status_code, items, next_link, float(retry) if retry else None, problem)
