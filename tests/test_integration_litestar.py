"""shield wrapped around a Litestar app (examples/litestar_app.py) really protects it.

Also pins down why shield wraps the whole Litestar app rather than joining Litestar's own
middleware list: Litestar routes before its middleware runs, so a sealed id in the path never
reaches shield there, and each route handler would get its own shield (and quota store).
"""

from __future__ import annotations

from typing import Any

import integration_checks as checks
import pytest
from clocks import FrozenClock
from litestar import Litestar, Request, get
from litestar.logging import LoggingConfig
from litestar.middleware import DefineMiddleware

from shield import Policy, ShieldMiddleware

pytestmark = pytest.mark.anyio


# --- why shield goes outside Litestar -----------------------------------------------------------

SEALING = Policy.from_dict(
    {
        "tokens": {"secrets": ["a token secret of at least thirty-two bytes, for tests only"]},
        "route": [
            {"path": "/records", "seal": [{"field": "items[*].id", "kind": "record"}]},
            {"path": "/records/{record_id}", "unseal": [{"param": "record_id", "kind": "record"}]},
        ],
    }
)


@get("/records")
async def records() -> dict[str, Any]:
    return {"items": [{"id": 7}]}


@get("/records/{record_id:str}")
async def record(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {"path_param": request.path_params["record_id"]}


async def opened_id(app: Any) -> tuple[str, str]:
    """Seal id 7 through ``/records``, then ask for it: the token and the id the handler got."""
    async with checks.client_for(app) as client:
        token = (await client.get("/records")).json()["items"][0]["id"]
        return token, (await client.get(f"/records/{token}")).json()["path_param"]


def records_app(**options: Any) -> Litestar:
    return Litestar(
        route_handlers=[records, record], logging_config=LoggingConfig(configure_root_logger=False), **options
    )


async def test_around_litestar_the_handler_gets_the_raw_id() -> None:
    _, opened = await opened_id(ShieldMiddleware(records_app(), SEALING))  # type: ignore[arg-type]
    assert opened == "7"


async def test_inside_litestar_middleware_the_handler_still_gets_the_opened_id() -> None:
    # Litestar matched the route and parsed its path parameters before its middleware ran:
    # shield opens them in scope["path_params"] too. (With {record_id:int} the token is a 404.)
    inside = DefineMiddleware(ShieldMiddleware, policy=SEALING)  # type: ignore[arg-type]  # same ASGI protocol
    _, opened = await opened_id(records_app(middleware=[inside]))
    assert opened == "7"


async def test_inside_litestar_middleware_each_handler_counts_its_own_budget() -> None:
    shared = {"name": "shared", "limit": 3, "window": 60, "routes": ["/records", "/records/{record_id}"]}
    policy = Policy.from_dict({"quota": [{**shared, "group": "records"}]})
    inside = DefineMiddleware(ShieldMiddleware, policy=policy, clock=FrozenClock())  # type: ignore[arg-type]
    outside = ShieldMiddleware(records_app(), policy, clock=FrozenClock())  # type: ignore[arg-type]
    for app, fourth in ((outside, 429), (records_app(middleware=[inside]), 200)):
        async with checks.client_for(app) as client:
            for _ in range(3):
                assert (await client.get("/records")).status_code == 200
            # Inside Litestar, the record handler has a shield (and a store) of its own.
            assert (await client.get("/records/x")).status_code == fourth
