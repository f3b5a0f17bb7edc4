"""The demo API, unprotected: ``create_app()``; protected: ``create_protected_app()``.

Like the API the Taobao crawler walked, it returns more than its site would show: full
phone numbers and emails, offset pagination and sequential ids.
"""

from __future__ import annotations

import bisect
import secrets
import tomllib
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from shield.demo.data import comments, shops, users
from shield.middleware import ShieldMiddleware
from shield.policy import Policy

DEMO_USER_HEADER = "x-demo-user"


class DemoHeaderAuth(AuthenticationBackend):
    """Demo only: trusts a header naming the user. A real app verifies a session or token."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        user_id = conn.headers.get(DEMO_USER_HEADER)
        if not user_id:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(user_id)


def _ints(request: Request, **defaults: int) -> dict[str, int] | JSONResponse:
    try:
        return {name: int(request.query_params.get(name, str(value))) for name, value in defaults.items()}
    except ValueError:
        return JSONResponse({"detail": f"{', '.join(defaults)} must be integers"}, status_code=400)


def _by_offset(request: Request, rows: list[dict[str, Any]]) -> JSONResponse:
    """Offset pagination, as the crawled API had it."""
    params = _ints(request, offset=0, limit=20)
    if isinstance(params, JSONResponse):
        return params
    offset, limit = max(params["offset"], 0), min(max(params["limit"], 1), 100)
    following = offset + limit
    return JSONResponse(
        {
            "items": rows[offset:following],
            "total": len(rows),
            "next": f"{request.url.path}?offset={following}&limit={limit}" if following < len(rows) else None,
        }
    )


def _after_id(request: Request, rows: list[dict[str, Any]]) -> JSONResponse:
    """Keyset pagination: the rows after the last id seen (rows are sorted by id)."""
    params = _ints(request, after_id=0, limit=20)
    if isinstance(params, JSONResponse):
        return params
    after, limit = params["after_id"], min(max(params["limit"], 1), 100)
    start = bisect.bisect_right([row["id"] for row in rows], after)
    items = rows[start : start + limit]
    more = start + limit < len(rows)
    following = f"{request.url.path}?after_id={items[-1]['id']}&limit={limit}" if items and more else None
    return JSONResponse({"items": items, "next": following})


def create_app(user_count: int = 1000) -> Starlette:
    """The unprotected demo API."""
    people = users(user_count)
    by_id = {person["id"]: person for person in people}
    remarks = comments(people, user_count * 2)
    stores = shops(people, max(1, user_count // 10))
    shop_by_id = {shop["id"]: shop for shop in stores}

    async def list_users(request: Request) -> JSONResponse:
        return _by_offset(request, people)

    async def get_user(request: Request) -> JSONResponse:
        person = by_id.get(request.path_params["user_id"])
        return JSONResponse(person) if person else JSONResponse({"detail": "not found"}, status_code=404)

    async def list_shops(request: Request) -> JSONResponse:
        return _by_offset(request, stores)

    async def get_shop(request: Request) -> JSONResponse:
        shop = shop_by_id.get(request.path_params["shop_id"])
        return JSONResponse(shop) if shop else JSONResponse({"detail": "not found"}, status_code=404)

    async def list_comments(request: Request) -> JSONResponse:
        return _after_id(request, remarks)

    async def me(request: Request) -> JSONResponse:
        if not request.user.is_authenticated:
            return JSONResponse({"detail": f"send the {DEMO_USER_HEADER} header"}, status_code=401)
        person = by_id.get(int(request.user.identity)) if request.user.identity.isdigit() else None
        return JSONResponse(person) if person else JSONResponse({"detail": "not found"}, status_code=404)

    return Starlette(
        routes=[
            Route("/users", list_users),
            Route("/users/{user_id:int}", get_user),
            Route("/shops", list_shops),
            Route("/shops/{shop_id:int}", get_shop),
            Route("/comments", list_comments),
            Route("/me", me),
        ],
        middleware=[Middleware(AuthenticationMiddleware, backend=DemoHeaderAuth())],
    )


def demo_policy() -> Policy:
    """The example policy shipped with the demo, with a token secret made for this process.

    Tokens therefore do not survive a restart of the demo; a real deployment reads its
    secrets from the environment (see ``docs/policy.md``).
    """
    text = resources.files("shield.demo").joinpath("policy.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    tokens = data.setdefault("tokens", {})
    tokens.setdefault("secrets", [secrets.token_urlsafe(32)])
    return Policy.from_dict(data)


def create_protected_app(user_count: int = 1000, policy: Policy | None = None) -> ASGIApp:
    """The demo API behind shield.

    Authentication runs outside shield, so shield binds tokens to the signed-in user (and
    anonymous callers to their address).
    """
    shielded = ShieldMiddleware(create_app(user_count), policy or demo_policy())
    return AuthenticationMiddleware(shielded, backend=DemoHeaderAuth())
