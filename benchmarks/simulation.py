"""The harness of the scraping simulation: simulated time, the targets, measurement, extrapolation.

Requests go in-process through ``httpx.ASGITransport``, one at a time. Time is **simulated**:
one clock drives shield's tokens and quota store, and the driver moves it by the scraper's
pacing after each request and jumps it forward when every identity of a scraper is resting
(``Retry-After``), so days pass in seconds of wall time.

What a scraper obtained is measured from ground truth, not from what it could work out:

- **records**: the raw user IDs the app answered with (seen by ``RecordSpy``, between shield and
  the app), counted only when the client got a 2xx carrying that many records;
- **phones in clear**: seeded phone numbers whose exact 11 digits appear in a response body.

Against a protected target, the driver also listens to shield's security events (a handler on
the ``shield.events`` logger at INFO, attached for the run) and records when the enumeration
detector first flagged, slowed and blocked the scraper (:class:`DetectorTrace`). The detector's
``slow_seconds`` is a real ``asyncio.sleep``, which the simulated clock cannot see: targets are
built with it lowered to ``SIMULATED_SLOW_SECONDS`` (see :func:`simulation_policy`), and the
simulated times after the ``slow`` level understate a real run by at most the configured delay
per request (:attr:`DetectorTrace.slow_time_bound`).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import orjson
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from benchmarks.scrapers import CLIENT_HEADER, Planned, Reply, Scraper
from shield.clock import FrozenClock
from shield.demo.app import DemoHeaderAuth
from shield.middleware import ShieldMiddleware
from shield.monitor import EVENT_LOGGER
from shield.policy import Policy
from shield.quotas import MemoryStore

__all__ = [
    "DAY",
    "LEVELS",
    "SIMULATED_SLOW_SECONDS",
    "TARGET_RECORDS",
    "DetectorTrace",
    "EventLog",
    "Extrapolation",
    "Limits",
    "Milestone",
    "RecordSpy",
    "RunResult",
    "SeededPhones",
    "SimulatedClock",
    "SimulationEdge",
    "Target",
    "build_target",
    "capture_events",
    "extrapolate",
    "simulate",
    "simulation_policy",
]

DAY = 86_400.0
TARGET_RECORDS = 1_100_000_000  # what the Taobao crawler took, 2019-2020
HORIZON_DAYS = 243  # about eight months: how long it took
_CLIENT_HEADER = CLIENT_HEADER.encode()
_CLIENT_PORT = 40_000
_ELEVEN_DIGITS = re.compile(rb"(?<![0-9])[0-9]{11}(?![0-9])")
#: The detector's delay for a "slow" caller during a simulation (real seconds; see the module doc).
SIMULATED_SLOW_SECONDS = 1e-6
#: The detector's ladder, lowest first.
LEVELS = ("flag", "slow", "block")


# The simulated clock: shield's own hand-moved clock, advanced by the driver.
SimulatedClock = FrozenClock


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
    """An app to scrape, as the driver calls it, and the spy that sees what it answered.

    ``policy`` is what shield enforces (None: unprotected); ``slow_seconds`` the detector's delay
    the policy asked for, before :func:`simulation_policy` lowered it.
    """

    app: ASGIApp
    spy: RecordSpy
    policy: Policy | None = None
    slow_seconds: float = 0.0

    @property
    def protected(self) -> bool:
        return self.policy is not None

    @property
    def detector(self) -> bool:
        return self.policy is not None and self.policy.detector.enabled


def simulation_policy(policy: Policy, slow_seconds: float = SIMULATED_SLOW_SECONDS) -> Policy:
    """``policy`` with the detector's ``slow_seconds`` lowered to ``slow_seconds`` (if it is on).

    The delay is a real ``asyncio.sleep`` before each request of a caller at ``slow`` or above:
    at the demo's 0.5 s, a crawler slowed for a simulated week would spend up to an hour of wall
    time asleep while the simulated clock stood still. Everything else (thresholds, points, block length)
    is the policy's.
    """
    if not policy.detector.enabled or policy.detector.slow_seconds <= slow_seconds:
        return policy
    return replace(policy, detector=replace(policy.detector, slow_seconds=slow_seconds))


def build_target(inner: ASGIApp, clock: SimulatedClock, policy: Policy | None) -> Target:
    """The demo app as is (``policy`` None), or as ``create_protected_app`` builds it.

    Protected: ``AuthenticationMiddleware(ShieldMiddleware(app, policy))`` with a fresh
    in-memory quota store, both on the simulated ``clock``, and the detector's delay lowered
    (:func:`simulation_policy`).
    """
    spy = RecordSpy(inner)
    if policy is None:
        return Target(SimulationEdge(spy), spy)
    simulated = simulation_policy(policy)
    store = MemoryStore(clock, max_keys=simulated.quotas.max_keys)
    shielded = ShieldMiddleware(spy, simulated, quota_store=store, clock=clock)
    app = SimulationEdge(AuthenticationMiddleware(shielded, backend=DemoHeaderAuth()))
    return Target(app, spy, simulated, policy.detector.slow_seconds)


class EventLog(logging.Handler):
    """Keeps the ``shield_event`` dicts of the records it is handed, until :meth:`take`."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.events: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "shield_event", None)
        if isinstance(event, dict):
            self.events.append(event)

    def take(self) -> list[dict[str, Any]]:
        """The events since the last call, oldest first."""
        events, self.events = self.events, []
        return events


@contextmanager
def capture_events() -> Iterator[EventLog]:
    """An :class:`EventLog` on the ``shield.events`` logger (at INFO at least) while the block runs."""
    logger = logging.getLogger(EVENT_LOGGER)
    handler = EventLog()
    level = logger.level
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


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


@dataclass(frozen=True, slots=True)
class Milestone:
    """The request that got a scraper somewhere: its number (1 = the first request of the run),
    the simulated seconds since the start when it was sent, and the slot that sent it."""

    requests: int
    simulated_seconds: float
    slot: int


@dataclass
class DetectorTrace:
    """What the enumeration detector did to one run, from the ``shield.events`` it emitted.

    ``first[level]``: the request during which some identity of the scraper first reached
    ``flag``, ``slow`` or ``block`` (the ``shield.escalated`` event; reaching a level implies
    the ones below it). ``first_refusal``: the first ``429 abnormal-usage-detected`` (the
    ``shield.refused`` event of kind ``detector``). ``reached``: the highest level index (into
    ``LEVELS``) each slot reached, so identities can be counted per level.
    """

    slow_seconds: float  # the policy's delay for a slowed caller
    slow_seconds_used: float  # the delay the simulation ran with
    first: dict[str, Milestone] = field(default_factory=dict)
    first_refusal: Milestone | None = None
    escalations: Counter[str] = field(default_factory=Counter)  # events by level
    refusals: int = 0  # 429 abnormal-usage-detected
    reached: dict[int, int] = field(default_factory=dict)

    def record(self, event: Mapping[str, Any], milestone: Milestone) -> None:
        if event.get("event") == "shield.escalated" and event.get("level") in LEVELS:
            level = LEVELS.index(event["level"])
            self.escalations[event["level"]] += 1
            self.reached[milestone.slot] = max(level, self.reached.get(milestone.slot, -1))
            for name in LEVELS[: level + 1]:
                self.first.setdefault(name, milestone)
        elif event.get("event") == "shield.refused" and event.get("kind") == "detector":
            self.refusals += 1
            if self.first_refusal is None:
                self.first_refusal = milestone

    @property
    def blocked(self) -> Milestone | None:
        """The first block: the ``block`` escalation, or the first 429 if that came first."""
        candidates = [m for m in (self.first.get("block"), self.first_refusal) if m is not None]
        return min(candidates, key=lambda m: m.requests) if candidates else None

    def identities(self, level: str) -> int:
        """How many slots reached ``level`` (or higher)."""
        index = LEVELS.index(level)
        return sum(1 for reached in self.reached.values() if reached >= index)

    def slow_time_bound(self, milestone: Milestone | None) -> float:
        """Simulated seconds a real delay could add before ``milestone``: the requests sent after
        the first ``slow`` (each may have waited) times the delay the simulation left out."""
        slow = self.first.get("slow")
        if milestone is None or slow is None or milestone.requests <= slow.requests:
            return 0.0
        return (milestone.requests - slow.requests) * max(self.slow_seconds - self.slow_seconds_used, 0.0)


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
    detector: DetectorTrace | None = None  # protected runs with the detector on

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
    if target.detector:
        assert target.policy is not None  # the detector is a protected target's
        result.detector = DetectorTrace(target.slow_seconds, target.policy.detector.slow_seconds)
    with capture_events() as events:
        await _drive(scraper, target, clock, phones, limits, result, events)
    result.records_extrapolation = extrapolate(
        result.records, result.identities, result.simulated_seconds, stalled=result.stalled
    )
    result.phones_extrapolation = extrapolate(result.clear_phones, result.identities, result.simulated_seconds)
    return result


async def _drive(  # noqa: PLR0917  # the run's parts, passed once
    scraper: Scraper,
    target: Target,
    clock: SimulatedClock,
    phones: SeededPhones,
    limits: Limits,
    result: RunResult,
    events: EventLog,
) -> None:
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
            events.take()  # only this request's events count below
            response = await client.get(step.url, headers=step.headers)
            reply = _reply(response)
            result.requests += 1
            result.statuses[reply.status] += 1
            if reply.problem:
                result.problems[f"{reply.status} {reply.problem}"] += 1
            if result.detector is not None:
                milestone = Milestone(result.requests, clock.now - start, step.slot)
                for event in events.take():
                    result.detector.record(event, milestone)
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
    profiles: tuple[str, ...] = ()
    if response.is_success and isinstance(document, dict):
        listed = document.get("items")
        items = len(listed) if isinstance(listed, list) else 1
        following = document.get("next")
        next_link = following if isinstance(following, str) else None
        if isinstance(listed, list):
            profiles = tuple(_profile_refs(listed))
    return Reply(response.status_code, items, next_link, float(retry) if retry else None, problem, profiles)


def _profile_refs(items: list[Any]) -> Iterator[str]:
    """The user each listed item links to, as the client got it: a comment's ``user_id``, else ``id``."""
    for item in items:
        if isinstance(item, dict):
            ref = item.get("user_id", item.get("id"))
            if isinstance(ref, str | int) and not isinstance(ref, bool):
                yield str(ref)
