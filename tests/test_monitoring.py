"""Security events and metrics, under a real FastAPI app: every refusal is told, no raw identifier is."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from asgi_client import client_for
from fastapi import FastAPI
from fastapi.responses import Response

from shield import Policy, ShieldMiddleware
from shield.metrics import ShieldMetrics
from shield.monitor import EVENT_LOGGER

pytestmark = pytest.mark.anyio

API_KEY = "k-very-secret-api-key-123"
PHONE = "13800138000"
POLICY: dict[str, Any] = {
    "tokens": {"secrets": ["a token secret of at least thirty-two bytes, for tests"]},
    "mask": [{"field": "email", "kind": "email"}],
    "route": [
        {"path": "/users", "pagination": {"style": "offset"}},
        {"path": "/raw", "masking": True},
    ],
    "quota": [{"name": "burst", "limit": 3, "window": 60, "routes": ["/users"], "per": ["api_key"]}],
}


def build_app() -> FastAPI:
    app = FastAPI()

    @app.get("/users")
    def users(offset: int = 0) -> dict[str, Any]:
        return {
            "items": [{"email": "alice@example.com", "note": f"call {PHONE}", "mobile": 13912345678}],
            "next": f"/users?offset={offset + 1}",
        }

    @app.get("/raw")
    def raw() -> Response:
        return Response(b"\x00\x01", media_type="application/json", headers={"content-encoding": "br"})

    return app


def events_of(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    found = []
    for record in caplog.records:
        if record.name == EVENT_LOGGER:
            event = json.loads(record.getMessage())
            assert event == record.shield_event  # type: ignore[attr-defined]  # set through extra=
            found.append(event)
    return found


async def test_every_refusal_is_an_event_without_raw_identifiers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=EVENT_LOGGER)
    shielded = ShieldMiddleware(build_app(), Policy.from_dict(POLICY))
    headers = {"x-api-key": API_KEY}
    async with client_for(shielded) as client:
        assert (
            await client.get("/users?cursor=garbage!token!value!that!is!long!enough", headers=headers)
        ).status_code == 400
        assert (await client.get("/users?offset=5", headers=headers)).status_code == 400
        assert (await client.get("/users", headers=headers)).status_code == 200
        assert (await client.get("/users", headers=headers)).status_code == 429
        assert (await client.get("/raw", headers=headers)).status_code == 502
    events = events_of(caplog)
    assert [(e["kind"], e["reason"], e["status"]) for e in events] == [
        ("token", "bad_encoding", 400),
        ("parameter", "native_position", 400),
        ("quota", "burst", 429),
        ("failed_closed", "unsupported-encoding", 502),
    ]
    assert {e["route"] for e in events} == {"/users", "/raw"}
    identities = {e["identity"] for e in events}
    assert len(identities) == 1
    (identity,) = identities
    assert identity.startswith("api_key|")
    assert len(identity) == len("api_key|") + 24
    logged = "".join(record.getMessage() for record in caplog.records)
    assert API_KEY not in logged
    assert "127.0.0.1" not in logged


async def test_metrics_count_decisions_masking_tokens_and_quotas() -> None:
    metrics = ShieldMetrics()
    shielded = ShieldMiddleware(build_app(), Policy.from_dict(POLICY), metrics=metrics)
    headers = {"x-api-key": API_KEY}
    async with client_for(shielded) as client:
        await client.get("/users", headers=headers)
        await client.get("/users?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", headers=headers)
        await client.get("/users", headers=headers)
        await client.get("/users", headers=headers)
        await client.get("/raw")
        await client.get("/other")
    text = metrics.exposition().decode()
    expected = [
        'shield_requests_total{decision="allowed",route="/users"} 2.0',
        'shield_requests_total{decision="refused",route="/users"} 1.0',
        'shield_requests_total{decision="limited",route="/users"} 1.0',
        'shield_requests_total{decision="failed_closed",route="/raw"} 1.0',
        'shield_requests_total{decision="allowed",route="*"} 1.0',
        'shield_quota_rejections_total{quota="burst",route="/users"} 1.0',
        'shield_masked_values_total{kind="email",route="/users"} 2.0',
        'shield_masked_values_total{kind="phone",route="/users"} 4.0',
    ]
    for line in expected:
        assert line in text, line
    assert 'shield_token_failures_total{reason="' in text
    assert "/other" not in text  # never a raw path as a label


async def test_the_metrics_app_serves_prometheus_text() -> None:
    metrics = ShieldMetrics()
    shielded = ShieldMiddleware(build_app(), Policy.from_dict(POLICY), metrics=metrics)
    async with client_for(shielded) as client:
        await client.get("/users", headers={"x-api-key": API_KEY})
    async with client_for(metrics.asgi_app()) as scraper:
        response = await scraper.get("/")
    assert response.status_code == 200
    assert 'shield_requests_total{decision="allowed",route="/users"} 1.0' in response.text
