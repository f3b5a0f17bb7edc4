"""A real FastAPI app that paginates the ways APIs do, and the policy that puts it behind cursors.

Every route records the query (and path) it received, so tests can check what the app saw:
native parameters only, never a token.
"""

from __future__ import annotations

from typing import Any

from clocks import FrozenClock
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from shield import Policy, ShieldMiddleware, Viewer
from shield.clock import Clock

TOKEN_SECRET = "a token secret of at least thirty-two bytes, for tests only"
OLD_TOKEN_SECRET = "the previous token secret, still of at least thirty-two bytes"
ITEMS: list[dict[str, Any]] = [{"item_id": n, "name": f"item {n}"} for n in range(1, 231)]
USER_IDS = list(range(100001, 100031))


def paging_policy(**overrides: Any) -> dict[str, Any]:
    """The policy as a dict; ``overrides`` replace top-level keys, ``offset_pagination`` the /items settings."""
    offset_pagination: dict[str, Any] = {
        "style": "offset",
        "size_param": "limit",
        "max_size": 50,
        "links": ["next", "prev", "last", "links.next"],
        **overrides.pop("offset_pagination", {}),
    }
    data: dict[str, Any] = {
        "tokens": {"secrets": [TOKEN_SECRET], **overrides.pop("tokens", {})},
        "masking": {"free_text": False},
        "route": [
            {"path": "/items", "pagination": offset_pagination},
            {"path": "/feed", "pagination": {"style": "after_id", "size_param": "limit", "links": ["paging.next"]}},
            {"path": "/pages", "pagination": {"style": "page", "links": ["links.next", "links.last"], "last": "drop"}},
            {"path": "/users", "seal": [{"field": "users[*].id", "kind": "user"}]},
            {
                "path": "/users/{user_id:int}",
                "seal": [{"field": "id", "kind": "user"}],
                "unseal": [{"param": "user_id", "kind": "user"}],
            },
            {"path": "/orders", "unseal": [{"param": "buyer", "kind": "user"}]},
            {
                "path": "/users/{user_id:int}/orders",
                "methods": ["GET"],
                "unseal": [{"param": "user_id", "kind": "user"}, {"param": "buyer", "kind": "user"}],
                "pagination": {"style": "offset", "size_param": "limit"},
            },
            {"path": "/people", "pagination": {"style": "offset", "totals": "coarsen", "last": "drop"}},
            {"path": "/export", "pagination": {"style": "offset"}},
            {"path": "/widgets/{widget_id}", "unseal": [{"param": "widget_id", "kind": "user"}]},
            {"path": "/things", "pagination": {"style": "offset"}},
            {"path": "/signup", "masking": False},
        ],
        **overrides,
    }
    return data


def build_paging_app() -> FastAPI:
    app = FastAPI()
    app.state.seen = []

    def record(request: Request) -> None:
        app.state.seen.append((request.url.path, list(request.query_params.multi_items())))

    @app.get("/items")
    def items(request: Request, offset: int = 0, limit: int = 20, sort: str = "id") -> JSONResponse:
        record(request)
        page = ITEMS[offset : offset + limit]
        body: dict[str, Any] = {"items": page, "total": len(ITEMS)}
        headers = {}
        if offset + limit < len(ITEMS):
            body["next"] = f"/items?offset={offset + limit}&limit={limit}&sort={sort}"
            headers["Link"] = (
                f'<http://testserver/items?offset={offset + limit}&limit={limit}&sort={sort}>; rel="next", '
                f'<http://testserver/items?offset={len(ITEMS) - limit}&limit={limit}&sort={sort}>; rel="last"'
            )
        body["prev"] = f"/items?offset={max(0, offset - limit)}&limit={limit}&sort={sort}" if offset else None
        body["last"] = f"/items?offset={len(ITEMS) - limit}&limit={limit}&sort={sort}"
        return JSONResponse(body, headers=headers)

    @app.get("/feed")
    def feed(request: Request, after_id: int = 0, limit: int = 20) -> dict[str, Any]:
        record(request)
        page = [item for item in ITEMS if item["item_id"] > after_id][:limit]
        more = bool(page) and page[-1]["item_id"] < ITEMS[-1]["item_id"]
        return {"data": page, "paging": {"next": page[-1]["item_id"] if more else None}}

    @app.get("/pages")
    def pages(request: Request, page: int = 1) -> dict[str, Any]:
        record(request)
        size = 100
        rows = ITEMS[(page - 1) * size : page * size]
        count = -(-len(ITEMS) // size)
        links = {"next": f"http://testserver/pages?page={page + 1}" if page < count else None}
        links["last"] = f"http://testserver/pages?page={count}"
        return {"results": rows, "links": links}

    @app.get("/users")
    def users(request: Request) -> dict[str, Any]:
        record(request)
        return {"users": [{"id": user_id, "name": f"user {user_id}"} for user_id in USER_IDS]}

    @app.get("/users/{user_id}")
    def user(request: Request, user_id: int) -> JSONResponse:
        record(request)
        body = {"id": user_id, "name": f"user {user_id}"}
        return JSONResponse(body, headers={"content-location": f"/users/{user_id}"})  # the route's own URL

    @app.get("/users/{user_id}/orders")
    def user_orders(request: Request, user_id: int, offset: int = 0, limit: int = 10) -> dict[str, Any]:
        record(request)
        buyer = request.query_params.get("buyer", "")
        following = f"/users/{user_id}/orders?offset={offset + limit}&limit={limit}" + (
            f"&buyer={buyer}" if buyer else ""
        )
        return {"orders": [{"n": n} for n in range(offset, offset + limit)], "next": following}

    @app.get("/people")
    def people(request: Request, offset: int = 0) -> dict[str, Any]:
        record(request)
        person = {"first": "Ada", "last": "Lovelace", "count": 48213, "next": "Charles"}
        return {
            "items": [person],
            "total": 48213,
            "next": f"people?offset={offset + 1}",  # relative to the request's path
            "links": {"next": [f"/people?offset={offset + 1}"], "last": "/people?offset=48212"},
        }

    @app.get("/export")
    def export(request: Request, offset: int = 0) -> Response:
        record(request)
        link = f'</export?offset={offset + 10}>; rel="next"'
        headers = {"link": link, "cache-control": "public, max-age=60"}
        return Response("a,b\n1,2\n", media_type="text/csv", headers=headers)

    @app.get("/widgets/{widget_id}/")  # only with a slash: the router redirects the other spelling
    def widget(request: Request, widget_id: int) -> dict[str, Any]:
        record(request)
        return {"widget": widget_id}

    @app.get("/things/")
    def things(request: Request, offset: int = 0) -> dict[str, Any]:
        record(request)
        return {"items": [offset], "next": f"/things/?offset={offset + 1}"}

    @app.post("/users")  # the policy's /users route only seals IDs in the body
    def create_user(request: Request) -> JSONResponse:
        record(request)
        return JSONResponse({"created": True}, status_code=201, headers={"location": "/users/100031"})

    @app.post("/signup")  # an unmasked route: nothing but locations to seal
    def signup(request: Request) -> JSONResponse:
        headers = {"location": "http://testserver/users/100032", "content-location": "/orders?buyer=100002"}
        return JSONResponse({"welcome": True}, status_code=201, headers=headers)

    @app.post("/notes")  # its location names no sealed route
    def notes(request: Request) -> JSONResponse:
        return JSONResponse({}, status_code=201, headers={"location": "/notes/100033", "cache-control": "max-age=5"})

    @app.get("/orders")
    def orders(request: Request, buyer: int) -> dict[str, Any]:
        record(request)
        return {"buyer_seen_by_app": buyer}

    return app


def viewer_from_header(scope: Any) -> Viewer | None:
    """Tests name the caller in an ``x-user`` header (an auth middleware would do this)."""
    for name, value in scope.get("headers", ()):
        if name == b"x-user":
            return Viewer(id=value.decode())
    return None


def shielded_paging_app(
    policy_data: dict[str, Any] | None = None, clock: Clock | None = None
) -> tuple[ShieldMiddleware, FastAPI]:
    app = build_paging_app()
    policy = Policy.from_dict(policy_data or paging_policy())
    return ShieldMiddleware(app, policy, viewer=viewer_from_header, clock=clock or FrozenClock()), app
