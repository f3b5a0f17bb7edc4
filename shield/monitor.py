"""What shield did with each request, told to operators: security events and metrics.

Every refusal becomes one structured event on the ``shield.events`` logger (INFO level, the
message is one JSON object, the same fields are on the record as ``shield_event``): what was
refused, why, on which route template, and a keyed pseudonym of the caller — never an API key,
a cookie or an address. With :class:`~shield.metrics.ShieldMetrics`, the same outcomes are
counted per route template (never per raw path: label cardinality stays bounded).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shield.pseudonyms import IdentityHasher
from shield.requester import Requester

if TYPE_CHECKING:
    from shield.metrics import ShieldMetrics

__all__ = ["EVENT_LOGGER", "Monitor", "Refusal"]

EVENT_LOGGER = "shield.events"
events = logging.getLogger(EVENT_LOGGER)

# What the client got, by refusal kind: the ``decision`` label of the requests metric.
_DECISIONS = {
    "quota": "limited",
    "blocked": "limited",
    "detector": "limited",
    "token": "refused",
    "parameter": "refused",
    "failed_closed": "failed_closed",
    "store_unavailable": "failed_closed",
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """``kind``: quota, blocked, detector, token, parameter, failed_closed, store_unavailable.

    ``reason`` is the quota's name, the token check that failed (``bad_tag``, ``foreign_identity``…),
    the refused parameter's reason, or the fail-closed reason (``body-too-large``…).
    """

    kind: str
    reason: str
    status: int
    source: str | None = None  # for quota refusals: the identity source whose budget ran out


class Monitor:
    """Emits the events and counts the metrics; one call per finished request."""

    __slots__ = ("_hasher", "metrics")

    def __init__(self, hasher: IdentityHasher, metrics: ShieldMetrics | None = None) -> None:
        self._hasher = hasher
        self.metrics = metrics

    def finished(
        self,
        route: str,
        method: str,
        requester: Requester | None,
        refusal: Refusal | None,
        masked: Counter[str] | None = None,
    ) -> None:
        metrics = self.metrics
        if refusal is not None:
            self._event(route, method, requester, refusal)
        if metrics is None:
            return
        metrics.requests.labels(route, "allowed" if refusal is None else _DECISIONS[refusal.kind]).inc()
        if refusal is not None:
            if refusal.kind == "token":
                metrics.token_failures.labels(route, refusal.reason).inc()
            elif refusal.kind == "quota":
                metrics.quota_rejections.labels(route, refusal.reason).inc()
        if masked:
            for kind, count in masked.items():
                metrics.masked_values.labels(route, kind).inc(count)

    def escalated(self, route: str, requester: Requester | None, level: str, score: int) -> None:
        """The enumeration detector moved a caller up its ladder (see :mod:`shield.detector`)."""
        identity = self._pseudonym(requester)
        record = {"event": "shield.escalated", "level": level, "score": score, "route": route, "identity": identity}
        events.warning(json.dumps(record, sort_keys=True), extra={"shield_event": record})
        if self.metrics is not None:
            self.metrics.escalations.labels(route, level).inc()

    def _event(self, route: str, method: str, requester: Requester | None, refusal: Refusal) -> None:
        if not events.isEnabledFor(logging.INFO):
            return
        record = {
            "event": "shield.refused",
            "kind": refusal.kind,
            "reason": refusal.reason,
            "status": refusal.status,
            "route": route,
            "method": method,
            "identity": self._pseudonym(requester),
        }
        events.info(json.dumps(record, sort_keys=True), extra={"shield_event": record})

    def _pseudonym(self, requester: Requester | None) -> str:
        primary = requester.primary if requester is not None else None
        return self._hasher(primary) if primary is not None else "anonymous"
