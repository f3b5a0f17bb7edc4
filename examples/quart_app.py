"""shield in front of a Quart app: masked contacts, cursor pagination, sealed ids, quotas.

Run: SHIELD_TOKEN_SECRET=$(.venv/bin/shield keys generate) .venv/bin/hypercorn examples.quart_app:app
     (or .venv/bin/uvicorn examples.quart_app:app, or .venv/bin/quart --app examples.quart_app run)
Try: curl '127.0.0.1:8000/users?limit=2', then the ``next`` link, then ``/users/<an id from the list>``;
     curl '127.0.0.1:8000/users?offset=50' and curl 127.0.0.1:8000/users/100002 are refused.

shield replaces ``app.asgi_app``, as WSGI middleware replaces Flask's ``wsgi_app``: ``app``
stays the Quart object (for ``quart run``, ``app.test_client()`` and extensions) and every
request, Quart's test client's included, goes through shield. See docs/integrations/quart.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from quart import Blueprint, Quart, request, url_for

from examples.shop import BY_ID, POLICY, USERS
from shield import ShieldMiddleware
from shield.identity import ViewerResolver

users = Blueprint("users", __name__)


@users.get("/users")
async def list_users() -> dict[str, Any] | tuple[dict[str, Any], int]:
    try:
        offset = int(request.args.get("offset", 0))
        limit = int(request.args.get("limit", 20))
    except ValueError:
        return {"detail": "offset and limit must be integers"}, 400
    following = offset + limit
    more = following < len(USERS)
    return {
        "items": USERS[offset:following],
        "total": len(USERS),
        # url_for, not request.path: under a root path (a proxy's prefix), the link must carry it.
        "next": url_for("users.list_users", offset=following, limit=limit) if more else None,
    }


@users.get("/users/<int:user_id>")
async def get_user(user_id: int) -> dict[str, Any] | tuple[dict[str, Any], int]:
    user = BY_ID.get(user_id)
    if user is None:
        return {"detail": f"no user {user_id}"}, 404
    return user


def create_app(*, viewer: ViewerResolver | None = None, clock: Callable[[], float] = time.time) -> Quart:
    """A fresh protected app, with fresh in-memory quotas.

    ``viewer`` names the signed-in caller from the raw request (Quart authenticates inside the
    app, where shield cannot see it); ``clock`` lets tests freeze time.
    """
    app = Quart(__name__)
    app.register_blueprint(users)
    # Replacing the method is the point (mypy forbids it); and Quart types ASGI callables with
    # hypercorn's TypedDicts, shield with Starlette's mappings: the same protocol.
    app.asgi_app = ShieldMiddleware(  # type: ignore[method-assign,assignment]
        app.asgi_app,  # type: ignore[arg-type]
        POLICY,
        viewer=viewer,
        clock=clock,
    )
    return app


app = create_app()
