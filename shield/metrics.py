"""Prometheus metrics for shield (``pip install 'asgi-shield[metrics]'``).

>>> metrics = ShieldMetrics()
>>> app = ShieldMiddleware(app, policy, metrics=metrics)  # doctest: +SKIP
>>> metrics_app = metrics.asgi_app()  # mount it where your scraper of metrics looks  # doctest: +SKIP

Labels are route templates from the policy (``*`` for requests no ``[[route]]`` matches), quota
names, token failure reasons, masker kinds and detector levels: all bounded by the policy, never
raw paths or identities.
"""

from __future__ import annotations

from typing import Any

from shield.errors import ShieldError

__all__ = ["ShieldMetrics"]


class ShieldMetrics:
    """The counters, on their own registry (several apps in one process stay apart)."""

    def __init__(self, registry: Any = None, *, namespace: str = "shield") -> None:
        try:
            import prometheus_client  # noqa: PLC0415  # optional: the metrics extra
        except ImportError as exc:
            raise ShieldError("metrics need prometheus-client: pip install 'asgi-shield[metrics]'") from exc
        self._prometheus = prometheus_client
        self.registry = registry if registry is not None else prometheus_client.CollectorRegistry()
        counter = prometheus_client.Counter
        self.requests = counter(
            "requests", "HTTP requests by what shield decided", ["route", "decision"],
            namespace=namespace, registry=self.registry,
        )  # fmt: skip
        self.masked_values = counter(
            "masked_values", "Values masked in responses, by masker kind", ["route", "kind"],
            namespace=namespace, registry=self.registry,
        )  # fmt: skip
        self.token_failures = counter(
            "token_failures", "Cursors and sealed IDs refused, by reason", ["route", "reason"],
            namespace=namespace, registry=self.registry,
        )  # fmt: skip
        self.quota_rejections = counter(
            "quota_rejections", "Requests refused by a quota", ["route", "quota"],
            namespace=namespace, registry=self.registry,
        )  # fmt: skip
        self.escalations = counter(
            "detector_escalations", "Callers the enumeration detector moved up its ladder", ["route", "level"],
            namespace=namespace, registry=self.registry,
        )  # fmt: skip

    def asgi_app(self) -> Any:
        """An ASGI app serving these metrics in the Prometheus text format."""
        return self._prometheus.make_asgi_app(registry=self.registry)

    def exposition(self) -> bytes:
        """The current metrics as Prometheus text (for tests and ad-hoc dumps)."""
        return bytes(self._prometheus.generate_latest(self.registry))
