"""The enumeration detector: notice a crawler in minutes, and escalate on its own.

Each caller (its primary identity key, by pseudonym) has a score over a sliding window, kept in
the quota store (so workers share it with Redis). Signals add points: refused tokens (forged,
foreign, expired cursors, raw IDs probed on sealed routes), refused native page parameters,
quota refusals, pages walked deep into a chain, and records handed out. The ladder:

* ``flag``: an ``escalated`` event (and metric) once, when the score crosses it;
* ``slow``: every response to the caller is delayed by ``slow_seconds``;
* ``block``: the first signal that would take the score past ``block`` refuses the caller for
  ``block_seconds`` with ``429 abnormal-usage-detected`` (the IETF RateLimit draft's name for
  it) and ``Retry-After``.

A quota refusal scores only when the budget that ran out is the caller's own (its primary
identity source): people behind one busy address are not blamed for the address's budget.
Records score per response, ``records // records_unit`` (pages smaller than a unit score nothing:
the record quotas, not the detector, bound volume).

The score is a :class:`~shield.quotas.Budget` whose limit is the block threshold: charging points
that do not fit is what trips the block (a :class:`~shield.quotas.Counter` that lives
``block_seconds``). Reading it costs one store decision per request; scoring happens only when a
request carries a signal, which ordinary users rarely do.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from shield._config import Table
from shield.errors import PolicyError
from shield.problems import Problem
from shield.quotas import Budget, Charge, Counter, QuotaStore

__all__ = ["Detector", "DetectorSettings", "Signals", "read_detector"]


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Thresholds, points and timings; see ``docs/policy.md`` (``[detector]``)."""

    enabled: bool = False
    window: float = 3600.0
    flag: int = 50
    slow: int = 100
    slow_seconds: float = 0.5
    block: int = 200
    block_seconds: float = 3600.0
    token_failure: int = 10
    raw_parameter: int = 10
    quota_refusal: int = 5
    deep_page: int = 1
    deep_after: int = 20
    records: int = 1
    records_unit: int = 100


@dataclass(slots=True)
class Signals:
    """What one request showed; the middleware fills it in."""

    token_failures: int = 0
    raw_parameters: int = 0
    quota_refusals: int = 0
    depth: int = 0
    records: int = 0

    def points(self, settings: DetectorSettings) -> int:
        return (
            self.token_failures * settings.token_failure
            + self.raw_parameters * settings.raw_parameter
            + self.quota_refusals * settings.quota_refusal
            + (settings.deep_page if self.depth > settings.deep_after else 0)
            + self.records // settings.records_unit * settings.records
        )


@dataclass(frozen=True, slots=True)
class Standing:
    """A caller's place on the ladder before the request runs."""

    score: int
    blocked_for: float = 0.0
    problem: Problem | None = None


@dataclass(slots=True)
class Detector:
    """Scores callers in ``store``; ``key`` names them (a pseudonym of the primary identity)."""

    settings: DetectorSettings
    store: QuotaStore
    _score: Budget = field(init=False)
    _block: Counter = field(init=False)

    def __post_init__(self) -> None:
        self._score = Budget(self.settings.block, self.settings.window)
        self._block = Counter(1, self.settings.block_seconds)

    async def standing(self, key: str) -> Standing:
        """The caller's score and block, read (peeked) in one decision."""
        decision = await self.store.decide(
            [
                Charge(f"detector-block|{key}", self._block, 1, peek=True),
                Charge(f"detector-score|{key}", self._score, 0, peek=True),
            ]
        )
        blocked, score = decision.outcomes
        current = self.settings.block - score.remaining
        if not blocked.allowed:
            retry = max(1, math.ceil(blocked.retry_after))
            problem = Problem(
                slug="abnormal-usage-detected",
                title="Abnormal usage detected",
                status=429,
                detail=f"this client's requests look like automated enumeration; retry after {retry} seconds",
            )
            return Standing(current, blocked.retry_after, problem)
        return Standing(current)

    async def slow_down(self, standing: Standing) -> None:
        if standing.score >= self.settings.slow:
            await asyncio.sleep(self.settings.slow_seconds)

    async def score(self, key: str, standing: Standing, signals: Signals) -> tuple[str | None, int]:
        """Add this request's points: the level it newly reached (``flag``, ``slow``, ``block``), and the score.

        The points keep counting through their window after a block ends: a caller that goes on
        as before is blocked again at its next signal (a repeat offender).
        """
        points = signals.points(self.settings)
        if points <= 0:
            return None, standing.score
        settings = self.settings
        decision = await self.store.decide([Charge(f"detector-score|{key}", self._score, points)])
        if not decision.allowed:  # past the block threshold
            await self.store.decide([Charge(f"detector-block|{key}", self._block, 1)])
            return "block", standing.score + points
        after = settings.block - decision.outcomes[0].remaining
        for level, threshold in (("slow", settings.slow), ("flag", settings.flag)):
            if standing.score < threshold <= after:
                return level, after
        return None, after


def read_detector(table: Table) -> DetectorSettings:
    if not table.has("enabled") and not any(table.has(key) for key in ("flag", "slow", "block")):
        table.value("enabled", bool, False)
        table.finish()
        return DetectorSettings()
    points = table.table("points")
    settings = DetectorSettings(
        enabled=table.value("enabled", bool, True),
        window=table.seconds("window", 3600.0),
        flag=table.positive_int("flag", 50),
        slow=table.positive_int("slow", 100),
        slow_seconds=table.seconds("slow_seconds", 0.5),
        block=table.positive_int("block", 200),
        block_seconds=table.seconds("block_seconds", 3600.0),
        token_failure=_points(points, "token_failure", 10),
        raw_parameter=_points(points, "raw_parameter", 10),
        quota_refusal=_points(points, "quota_refusal", 5),
        deep_page=_points(points, "deep_page", 1),
        deep_after=points.positive_int("deep_after", 20),
        records=_points(points, "records", 1),
        records_unit=points.positive_int("records_unit", 100),
    )
    points.finish()
    table.finish()
    if not settings.flag <= settings.slow <= settings.block:
        raise PolicyError(table.key_path("block"), "the ladder must climb: flag <= slow <= block")
    return settings


def _points(table: Table, key: str, default: int) -> int:
    value = table.value(key, int, default)
    if value < 0:
        raise PolicyError(table.key_path(key), f"must be 0 or more points, got {value}")
    return value
