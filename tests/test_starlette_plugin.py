"""shield.starlette: settings declared with Starlette routes, enforced by the middleware install() adds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from asgi_client import client_for, refused
from clocks import FrozenClock
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from shield import Policy, PolicyError
from shield.starlette import extend_policy, install, protected_route, quota, shield_route

pytestmark = pytest.mark.anyio

TOKEN_SECRET = "a token secret of at least thirty-two bytes, for tests only"
CUSTOMERS = [{"id": n, "name": f"tommy{n}", "phone": "13800138000"} for n in range(1, 6)]


def file_policy(**extra: Any) -> Policy:
    return Policy.from_dict(
        {
            "tokens": {"secrets": [TOKEN_SECRET]},
            "quota": [{"name": "listing", "limit": 3, "window": 60, "routes": ["/unused"]}],
            **extra,
        }
    )


async def customers(request: Request) -> JSONResponse:
    page = int(request.query_params.get("page", "1"))
    rows = CUSTOMERS[(page - 1) * 2 : page * 2]
    following = f"/customers?page={page + 1}" if page * 2 < len(CUSTOMERS) else None
    return JSONResponse({"items": rows, "next": following})


async def order(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.path_params["order_id"], "note": "for tommy1"})


@shield_route(mask=[("code", "redact")])
async def voucher(request: Request) -> JSONResponse:
    return JSONResponse({"code": "SAVE-2024-XYZ", "open": "OPEN-1"})


class Account(HTTPEndpoint):
    async def get(self, request: Request) -> JSONResponse:
        return JSONResponse({"iban": "GB33BUKB20201555555555"})


shield_route(mask=[("iban", "redact")])(Account)


def build_app(**kwargs: Any) -> Starlette:
    routes = [
        protected_route(
            "/customers",
            customers,
            mask=[("name", "username")],
            pagination={"style": "page", "links": ["$.next"]},
            quotas="listing",
        ),
        Route("/raw", customers),  # the same endpoint, routed without settings
        Mount(
            "/api",
            routes=[
                protected_route(
                    "/orders/{order_id:int}",
                    order,
                    methods=["GET"],
                    seal=[("id", "order")],
                    unseal=[("order_id", "order")],
                    quotas=[quota("orders", limit=2, window=60)],
                ),
                Route("/vouchers", voucher),
            ],
        ),
        Route("/account", Account),
    ]
    return Starlette(routes=routes, **kwargs)


def installed(app: Starlette | None = None, policy: Policy | None = None) -> Starlette:
    app = app or build_app()
    install(app, policy or file_policy(), clock=FrozenClock())
    return app


async def test_route_settings_mask_their_route_only() -> None:
    async with client_for(installed()) as client:
        listed = (await client.get("/customers")).json()["items"]
        raw = (await client.get("/raw")).json()["items"]
        voucher = (await client.get("/api/vouchers")).json()
        account = (await client.get("/account")).json()
    assert [row["name"] for row in listed] == ["t***1", "t***2"]
    assert raw[0]["name"] == "tommy1"  # protected_route settings belong to the route, not the endpoint
    assert "13800138000" not in str(listed) + str(raw)  # the policy's free-text detection everywhere
    assert voucher == {"code": "[redacted]", "open": "OPEN-1"}  # @shield_route on a routed endpoint
    assert account == {"iban": "[redacted]"}  # an HTTPEndpoint class can carry settings too


async def test_page_numbers_become_cursors() -> None:
    roomy = file_policy(quota=[{"name": "listing", "limit": 100, "routes": ["/unused"]}])
    async with client_for(installed(policy=roomy)) as client:
        first = (await client.get("/customers")).json()
        assert "page=" not in first["next"]
        assert "cursor=" in first["next"]
        second = (await client.get(first["next"])).json()
        assert second["items"][0]["id"] == 3
        refused(await client.get("/customers?page=2"), 400, "parameter-refused")
        assert (await client.get("/customers?page=1")).status_code == 200


async def test_quotas_by_name_and_inline_under_a_mount() -> None:
    async with client_for(installed()) as client:
        listing = [(await client.get("/customers")).status_code for _ in range(4)]
        # A raw id is refused, but counted first: quotas are checked before anything else.
        probes = [await client.get("/api/orders/7") for _ in range(3)]
    assert listing == [200, 200, 200, 429]
    refused(probes[0], 400, "token-invalid")
    refused(probes[1], 400, "token-invalid")
    assert refused(probes[2], 429, "quota-exceeded")["quota"] == "orders"


async def test_sealed_ids_round_trip_below_the_mount() -> None:
    app = installed(policy=file_policy(seal=[{"field": "order_id", "kind": "order"}]))

    async def orders(request: Request) -> JSONResponse:
        return JSONResponse({"order_id": 42})

    app.router.routes.insert(0, Route("/orders", orders))  # no settings: may come after install()
    async with client_for(app) as client:
        token = (await client.get("/orders")).json()["order_id"]
        opened = await client.get(f"/api/orders/{token}")
    assert opened.status_code == 200
    assert opened.json()["id"] == token


def test_extend_policy_puts_route_settings_first_with_mount_prefixes() -> None:
    policy = file_policy(route=[{"path": "/customers", "masking": False}])
    merged = extend_policy(build_app(), policy)
    assert [r.path for r in merged.routes] == [
        "/customers",
        "/api/orders/{order_id:int}",
        "/api/vouchers",
        "/account",
        "/customers",
    ]
    assert merged.routes[0].methods == frozenset({"GET", "HEAD"})
    assert merged.routes[3].methods is None  # an HTTPEndpoint answers any method it defines
    by_name = {rule.name: rule for rule in merged.quota}
    assert by_name["listing"].routes == ("/unused", "/customers")
    assert by_name["orders"].routes == ("/api/orders/{order_id:int}",)
    assert by_name["orders"].methods == frozenset({"GET", "HEAD"})


async def test_authentication_from_the_constructor_runs_before_shield() -> None:
    class HeaderAuth(AuthenticationBackend):
        async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
            user = conn.headers.get("x-user")
            return (AuthCredentials(["authenticated"]), SimpleUser(user)) if user else None

    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"user": request.user.username})

    app = Starlette(
        routes=[protected_route("/me", me, quotas=quota("mine", limit=1, per=["user"]))],
        middleware=[Middleware(AuthenticationMiddleware, backend=HeaderAuth())],
    )
    install(app, Policy.from_dict({}), clock=FrozenClock())
    async with client_for(app) as client:
        assert (await client.get("/me", headers={"x-user": "ada"})).status_code == 200
        assert (await client.get("/me", headers={"x-user": "bob"})).status_code == 200
        problem = refused(await client.get("/me", headers={"x-user": "ada"}), 429, "quota-exceeded")
    assert problem["quota"] == "mine"


def test_unknown_quota_name_fails_at_install_naming_the_route() -> None:
    app = Starlette(routes=[Mount("/api", routes=[protected_route("/list", customers, quotas="listin")])])
    with pytest.raises(PolicyError) as error:
        install(app, file_policy())
    assert error.value.path == "route[GET /api/list]"
    assert "unknown quota 'listin' (did you mean 'listing'?)" in error.value.problem
    assert "customers" in error.value.problem


def test_invalid_settings_fail_at_install_naming_the_route() -> None:
    app = Starlette(routes=[protected_route("/list", customers, pagination={"style": "pages"})])
    with pytest.raises(PolicyError) as error:
        install(app, file_policy())
    assert error.value.path == "route[GET /list].pagination.style"
    assert "did you mean 'page'" in error.value.problem


def test_settings_on_both_the_route_and_its_endpoint_are_an_error() -> None:
    app = Starlette(routes=[protected_route("/v", voucher, masking=False)])
    with pytest.raises(PolicyError, match="settings given twice"):
        install(app, file_policy())


async def test_a_route_with_settings_added_after_install_stops_the_app() -> None:
    app = installed()
    app.router.routes.append(protected_route("/late", customers, masking=False))
    async with client_for(app) as client:
        with pytest.raises(RuntimeError, match=r"GET /late"):
            await client.get("/customers")


async def test_the_documented_example_does_what_the_page_says() -> None:
    page = Path(__file__).parents[1] / "docs" / "integrations" / "starlette.md"
    found = re.search(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert found is not None
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), str(page), "exec"), namespace)
    async with client_for(namespace["app"]) as client:
        first = (await client.get("/customers")).json()
        assert "cursor=" in first["next"]
        assert "page=" not in first["next"]
        assert first["items"][0]["name"] != "customer1"
        assert "13912340001" not in str(first)
        second = (await client.get(first["next"])).json()
        assert len(second["items"]) == 10
        refused(await client.get("/customers?page=2"), 400, "parameter-refused")
        refused(await client.get("/customers/2"), 400, "token-invalid")
        token = second["items"][0]["id"]
        opened = await client.get(f"/customers/{token}")
        views = [(await client.get(f"/customers/{token}")).status_code for _ in range(29)]
    assert opened.json()["phone"] != "13912340011"
    assert opened.json()["id"] == token
    assert views == [200] * 28 + [429]  # the raw ID and the first view were 2 of 30
