"""The scrapers of the scraping simulation (``benchmarks/scraping.py``): small state machines.

A scraper never touches the network or a clock. The driver (``benchmarks/simulation.py``) asks
``plan(now)`` for the next request, or for the simulated moment it wants to wait until, sends
the request, and hands what came back to ``observe``. A scraper has one or more *slots*: the
identities it works with (API keys, addresses), each resting on its own after a 429.

How each one presents itself (its TCP peer and headers) is a *presenter*: the same crawling
logic runs with one address, 50 API keys, addresses rotating inside one IPv6 /64, or a spoofed
``X-Forwarded-For``.

:class:`OrdinaryUsers` is the control group: people browsing the way the API's own front end
would, through the links and sealed IDs they are given, at a human pace.
"""

from __future__ import annotations

import heapq
import ipaddress
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "CLIENT_HEADER",
    "ApiKeys",
    "CursorRelay",
    "FixedPeer",
    "IdWalker",
    "ListCrawler",
    "OrdinaryUsers",
    "PeerPerSlot",
    "Planned",
    "Presenter",
    "Reply",
    "RotatingIPv6",
    "Scraper",
    "SpoofedForwardedFor",
]

#: Names the TCP peer of one request; ``SimulationEdge`` moves it into ``scope["client"]``.
CLIENT_HEADER = "x-sim-client"
PAGE_SIZE = 100
FIRST_USER_ID = 100_000
DEFAULT_RETRY_AFTER = 60.0

RequestKind = Literal["native", "link", "id", "me"]


@dataclass(frozen=True, slots=True)
class Planned:
    """One request a scraper wants sent now: by which slot, and what it aims at."""

    url: str
    slot: int
    headers: dict[str, str]
    kind: RequestKind  # a native offset, a link the API gave, a record id, or the caller's own record
    position: int  # the list offset (native, link) or the user id (id; 0 when sealed); 0 for me


@dataclass(frozen=True, slots=True)
class Reply:
    """What a scraper learns from a response."""

    status: int
    items: int = 0  # records in a 2xx list page (1 for a single record)
    next_link: str | None = None
    retry_after: float | None = None
    problem: str | None = None  # the problem type's slug, for a refusal
    profiles: tuple[str, ...] = ()  # a list page's user references (a comment's user_id, else id)


class Scraper(Protocol):
    name: str
    identities: int  # what the extrapolation divides by (see ``simulation.extrapolate``)
    finished: bool  # it has everything it wanted

    def plan(self, now: float) -> Planned | float: ...

    def observe(self, planned: Planned, reply: Reply, now: float) -> None: ...


# -- presenters: how a slot looks on the wire ------------------------------------------------


class Presenter(Protocol):
    def __call__(self, slot: int) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class FixedPeer:
    """Every request from one address."""

    address: str

    def __call__(self, slot: int) -> dict[str, str]:
        return {CLIENT_HEADER: self.address}


@dataclass(frozen=True, slots=True)
class PeerPerSlot:
    """Slot ``i`` always comes from ``addresses[i]`` (a small botnet)."""

    addresses: Sequence[str]

    def __call__(self, slot: int) -> dict[str, str]:
        return {CLIENT_HEADER: self.addresses[slot]}


@dataclass(frozen=True, slots=True)
class ApiKeys:
    """Slot ``i`` sends ``x-api-key: keys[i]``, all from one address."""

    keys: Sequence[str]
    address: str

    def __call__(self, slot: int) -> dict[str, str]:
        return {CLIENT_HEADER: self.address, "x-api-key": self.keys[slot]}


@dataclass(slots=True)
class RotatingIPv6:
    """A fresh random address inside one IPv6 network on every request."""

    network: ipaddress.IPv6Network
    rng: random.Random = field(default_factory=lambda: random.Random(64))
    used: set[str] = field(default_factory=set)

    def __call__(self, slot: int) -> dict[str, str]:
        host = self.network.network_address + self.rng.randrange(1, self.network.num_addresses)
        self.used.add(str(host))
        return {CLIENT_HEADER: str(host)}


@dataclass(slots=True)
class SpoofedForwardedFor:
    """One real peer, claiming a random public IPv4 address in ``X-Forwarded-For`` each time."""

    address: str
    rng: random.Random = field(default_factory=lambda: random.Random(4))

    def __call__(self, slot: int) -> dict[str, str]:
        claimed = ".".join(str(self.rng.randrange(1, 224 if i == 0 else 255)) for i in range(4))
        return {CLIENT_HEADER: self.address, "x-forwarded-for": claimed}


# -- scrapers ----------------------------------------------------------------------------------


def _round_robin(rest_until: list[float], start: int, now: float) -> int | float:
    """The first slot from ``start`` on that is not resting, or when the first one wakes up."""
    count = len(rest_until)
    for step in range(count):
        slot = (start + step) % count
        if rest_until[slot] <= now:
            return slot
    return min(rest_until)


@dataclass(slots=True)
class _Walk:
    link: str | None = None  # the next link of this slot's last page
    link_position: int = 0  # the offset that link leads to


class ListCrawler:
    """A good-faith list crawler: native offsets while the API takes them, else its next links.

    All slots share one frontier (the first offset nobody has fetched). A slot asks for
    ``?offset=<frontier>`` until the API refuses an offset beyond the first page; from then on
    each slot follows the next links of its own pages, starting at ``offset=0`` whenever it has
    none (a link refused or expired). Slots take turns request by request; a 429 rests a slot
    for its ``Retry-After``. Finished when a page without a next link ends a walk from the start.
    """

    def __init__(self, name: str, present: Presenter, *, slots: int = 1, identities: int | None = None) -> None:
        self.name = name
        self.identities = identities if identities is not None else slots
        self.finished = False
        self.native_refused = False
        self.frontier = 0
        self._present = present
        self._walks = [_Walk() for _ in range(slots)]
        self._rest_until = [0.0] * slots
        self._turn = 0

    def plan(self, now: float) -> Planned | float:
        slot = _round_robin(self._rest_until, self._turn, now)
        if isinstance(slot, float):
            return slot
        self._turn = (slot + 1) % len(self._walks)
        walk = self._walks[slot]
        if walk.link is not None and (self.native_refused or walk.link_position == self.frontier):
            return Planned(walk.link, slot, self._present(slot), "link", walk.link_position)
        offset = 0 if self.native_refused else self.frontier
        url = f"/users?offset={offset}&limit={PAGE_SIZE}"
        return Planned(url, slot, self._present(slot), "native", offset)

    def observe(self, planned: Planned, reply: Reply, now: float) -> None:
        walk = self._walks[planned.slot]
        if reply.status == 429:
            self._rest_until[planned.slot] = now + (reply.retry_after or DEFAULT_RETRY_AFTER)
        elif 200 <= reply.status < 300:
            end = planned.position + reply.items
            self.frontier = max(self.frontier, end)
            walk.link, walk.link_position = reply.next_link, end
            self.finished = reply.next_link is None
        elif planned.kind == "native" and planned.position > 0:
            self.native_refused = True  # the API wants its own links: follow them from now on
        elif planned.kind == "link":
            walk.link = None  # refused or expired: this slot starts over


class IdWalker:
    """``/users/100000``, ``/users/100001``…: one request per id, resting on 429s."""

    def __init__(self, name: str, present: Presenter, *, count: int, first: int = FIRST_USER_ID) -> None:
        self.name = name
        self.identities = 1
        self.finished = count <= 0
        self.next_id = first
        self._end = first + count
        self._present = present
        self._rest_until = 0.0

    def plan(self, now: float) -> Planned | float:
        if self._rest_until > now:
            return self._rest_until
        return Planned(f"/users/{self.next_id}", 0, self._present(0), "id", self.next_id)

    def observe(self, planned: Planned, reply: Reply, now: float) -> None:
        if reply.status == 429:
            self._rest_until = now + (reply.retry_after or DEFAULT_RETRY_AFTER)
            return  # the same id again later
        self.next_id += 1  # a naive walker moves on whatever the answer
        self.finished = self.next_id >= self._end


class CursorRelay:
    """One walk relayed between identities: each request uses the latest next link, whoever got it.

    Slot after slot takes the link the previous page gave (so cursors harvested by one identity
    are replayed by the others). A slot that fails with a link does not try it again; when the
    identity that obtained a link fails with it too (expired), the walk restarts at ``offset=0``
    with the next slot.
    """

    def __init__(self, name: str, present: Presenter, *, slots: int) -> None:
        self.name = name
        self.identities = slots
        self.finished = False
        self.link: str | None = None
        self.link_position = 0
        self.owner: int | None = None  # the slot whose page gave the link
        self.tried: set[int] = set()  # slots refused with the current link
        self._present = present
        self._rest_until = [0.0] * slots
        self._turn = 0

    def plan(self, now: float) -> Planned | float:
        slots = len(self._rest_until)
        for step in range(slots):
            slot = (self._turn + step) % slots
            if self._rest_until[slot] > now or (self.link is not None and slot in self.tried):
                continue
            self._turn = (slot + 1) % slots
            if self.link is None:
                return Planned(f"/users?offset=0&limit={PAGE_SIZE}", slot, self._present(slot), "native", 0)
            return Planned(self.link, slot, self._present(slot), "link", self.link_position)
        waiting = [until for slot, until in enumerate(self._rest_until) if self.link is None or slot not in self.tried]
        return min(waiting)

    def observe(self, planned: Planned, reply: Reply, now: float) -> None:
        slot = planned.slot
        if reply.status == 429:
            self._rest_until[slot] = now + (reply.retry_after or DEFAULT_RETRY_AFTER)
        elif 200 <= reply.status < 300:
            self.link, self.link_position = reply.next_link, planned.position + reply.items
            self.owner, self.tried = slot, set()
            self.finished = reply.next_link is None
        elif planned.kind == "link" and slot != self.owner:
            self.tried.add(slot)
        else:  # the first page refused, or the link refused to the identity that got it
            self.link, self.owner, self.tried = None, None, set()


# -- the control group -------------------------------------------------------------------------

Step = Literal["me", "list", "next", "profile"]
MIN_THINK = 2.0  # seconds between two clicks, at least
SESSION_GAP = 60.0  # seconds between two sessions of one person, at least
PEOPLE_NETWORK = ipaddress.IPv4Network("198.18.0.0/15")  # where ordinary people's addresses come from


@dataclass(slots=True)
class _Visitor:
    """One person: when their sessions start, and where they are in the current one."""

    user: str
    address: str
    starts: list[float]  # sessions still to come, soonest last
    steps: list[Step] = field(default_factory=list)  # the current session's next steps, soonest last
    listing: str = "/users"
    link: str | None = None  # the next link of the page on screen
    offered: tuple[str, ...] = ()  # the profiles the page on screen links to
    retried: int = 0  # 429s on the current click


class OrdinaryUsers:
    """``count`` signed-in people browsing over one simulated ``day``, each on their own.

    Person ``n`` sends ``x-demo-user: 100000 + n`` from address ``n`` of ``network`` (or, with
    ``networks``, from one of that many shared addresses) and has 1-4 sessions (weights
    50/30/15/5) starting at random moments of the day, never overlapping. A session: ``/me``
    (the front end loads who is signed in), the first page of ``/users`` (60 %) or ``/comments``
    (``limit=20``), then page after page: 0-3 profiles opened through the sealed IDs the page
    offers (weights 35/35/20/10), then its ``next`` link, for 1-6 pages in all (1 + an
    exponential of mean 1.2); ``/me`` again at the end in one session of five. Between two clicks
    a person thinks: log-normal, median ``think`` seconds, sigma 1, at least ``MIN_THINK``. Now
    and then (``stale_share`` of the ``next`` clicks) they leave the page open for 20-90 minutes
    first (``stale_clicks`` counts them), so its cursor has expired: a refused ``next`` sends them
    back to the first page, as a front end would. A 429 makes them wait its ``Retry-After`` and
    click again, ``retries`` times at most; then they give up on that click.

    ``refused[slot]`` counts each person's refused requests (status >= 400), ``refusals`` all of
    them by step, status and problem type.
    """

    def __init__(
        self,
        name: str,
        count: int,
        *,
        seed: int = 11,
        day: float = 86_400.0,
        think: float = 15.0,
        stale_share: float = 0.03,
        retries: int = 2,
        networks: int | None = None,
        network: ipaddress.IPv4Network = PEOPLE_NETWORK,
        first_user: int = FIRST_USER_ID,
    ) -> None:
        shared = count if networks is None else networks
        if not 0 < shared <= network.num_addresses - 2:
            raise ValueError(f"{shared} addresses do not fit in {network}")
        self.name = name
        self.identities = count
        self.finished = count <= 0
        self.sessions = 0
        self.stale_clicks = 0
        self.refused: Counter[int] = Counter()
        self.refusals: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._think = think
        self._stale_share = stale_share
        self._retries = retries
        self._due: list[tuple[float, int]] = []  # (when, slot): each person waiting for something
        self._visitors: list[_Visitor] = []
        self._started = False
        for number in range(count):
            address = str(network.network_address + 1 + number % shared)
            sessions = self._rng.choices((1, 2, 3, 4), weights=(50, 30, 15, 5))[0]
            starts = sorted((self._rng.uniform(0.0, day) for _ in range(sessions)), reverse=True)
            self._visitors.append(_Visitor(str(first_user + number), address, starts))

    @property
    def people(self) -> int:
        return len(self._visitors)

    def plan(self, now: float) -> Planned | float:
        if not self._started:  # the day starts now: session starts were drawn from 0
            self._started = True
            for slot, visitor in enumerate(self._visitors):
                visitor.starts = [now + start for start in visitor.starts]
                heapq.heappush(self._due, (visitor.starts[-1], slot))
        while self._due:
            due, slot = self._due[0]
            if due > now:
                return due
            visitor = self._visitors[slot]
            if not visitor.steps:  # a session starts
                visitor.starts.pop()
                self._start_session(visitor)
                continue
            planned = self._request(visitor, slot)
            if planned is not None:
                return planned  # its entry stays first until ``observe``
            heapq.heappop(self._due)  # nothing to click (last page, or no profile offered)
            visitor.steps.pop()
            self._next(visitor, slot, now)
        return math.nextafter(now, math.inf)  # everyone is done: the driver sees ``finished``

    def observe(self, planned: Planned, reply: Reply, now: float) -> None:
        slot = planned.slot
        visitor = self._visitors[slot]
        step = visitor.steps[-1]
        heapq.heappop(self._due)  # this person's entry: it was due, and first
        if reply.status >= 400:
            self.refused[slot] += 1
            self.refusals[f"{step}: {reply.status} {reply.problem or ''}".rstrip()] += 1
        if reply.status == 429 and visitor.retried < self._retries:
            visitor.retried += 1
            heapq.heappush(self._due, (now + (reply.retry_after or DEFAULT_RETRY_AFTER), slot))
            return  # the same click again
        visitor.retried = 0
        visitor.steps.pop()
        if 200 <= reply.status < 300 and step in ("list", "next"):
            visitor.link, visitor.offered = reply.next_link, reply.profiles
        elif step == "next" and reply.status >= 400:
            visitor.steps.append("list")  # the front end starts the listing again
        self._next(visitor, slot, now)

    # -- inside -------------------------------------------------------------------------------

    def _start_session(self, visitor: _Visitor) -> None:
        """The steps of a new session; the person's entry stays due now."""
        self.sessions += 1
        rng = self._rng
        steps: list[Step] = ["me", "list"]
        pages = 1 + min(int(rng.expovariate(1 / 1.2)), 5)
        for page in range(pages):
            steps += ["profile"] * rng.choices((0, 1, 2, 3), weights=(35, 35, 20, 10))[0]
            if page < pages - 1:
                steps.append("next")
        if rng.random() < 0.2:
            steps.append("me")
        visitor.steps = steps[::-1]
        visitor.listing = "/users" if rng.random() < 0.6 else "/comments"
        visitor.link, visitor.offered = None, ()

    def _request(self, visitor: _Visitor, slot: int) -> Planned | None:
        headers = {CLIENT_HEADER: visitor.address, "x-demo-user": visitor.user}
        step = visitor.steps[-1]
        if step == "me":
            return Planned("/me", slot, headers, "me", 0)
        if step == "list":
            return Planned(f"{visitor.listing}?limit=20", slot, headers, "native", 0)
        if step == "next":
            return Planned(visitor.link, slot, headers, "link", 0) if visitor.link else None
        if not visitor.offered:
            return None
        return Planned(f"/users/{self._rng.choice(visitor.offered)}", slot, headers, "id", 0)

    def _next(self, visitor: _Visitor, slot: int, now: float) -> None:
        """Queue the person's next click, or next session; done when neither is left."""
        if visitor.steps:
            heapq.heappush(self._due, (now + self._pause(visitor), slot))
        elif visitor.starts:
            heapq.heappush(self._due, (max(visitor.starts[-1], now + SESSION_GAP), slot))
        self.finished = not self._due

    def _pause(self, visitor: _Visitor) -> float:
        if visitor.steps[-1] == "next" and visitor.link and self._rng.random() < self._stale_share:
            self.stale_clicks += 1
            return self._rng.uniform(20 * 60, 90 * 60)  # the page stayed open
        return max(MIN_THINK, self._rng.lognormvariate(math.log(self._think), 1.0))
