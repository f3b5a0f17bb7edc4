"""shield in front of a Litestar app: masked contacts, cursor pagination, sealed ids, quotas.

Run: SHIELD_TOKEN_SECRET=$(.venv/bin/shield keys generate) .venv/bin/uvicorn examples.litestar_app:app
Try: curl '127.0.0.1:8000/users?limit=2', then the ``next`` link, then ``/users/<an id from the list>``;
     curl '127.0.0.1:8000/users?offset=50' and curl 127.0.0.1:8000/users/100002 are refused.

The app itself paginates by ``offset`` and looks users up by their integer id; it knows
nothing of shield. shield wraps the whole Litestar app, outside Litestar's own middleware
(see docs/integrations/litestar.md for why, and how to identify signed-in users).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from litestar import Litestar, Request, get
from litestar.exceptions import NotFoundException, ValidationException
from litestar.logging import LoggingConfig

from examples.shop import BY_ID, POLICY, USERS
from shield import ShieldMiddleware
from shield.identity import ViewerResolver


def _int_param(request: Request[Any, Any, Any], name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        raise ValidationException(f"{name} must be an integer") from None


# Parameters are read from the request rather than declared in the signature: the declaration
# styles differ between Litestar 2 releases (newer ones warn on the older styles), this works
# on all of them.
@get("/users")
async def list_users(request: Request[Any, Any, Any]) -> dict[str, Any]:
    offset, limit = _int_param(request, "offset", 0), _int_param(request, "limit", 20)
    following = offset + limit
    more = following < len(USERS)
    return {
        "items": USERS[offset:following],
        "total": len(USERS),
        "next": f"{request.url.path}?offset={following}&limit={limit}" if more else None,
    }


@get("/users/{user_id:int}")
async def get_user(request: Request[Any, Any, Any]) -> dict[str, Any]:
    user_id: int = request.path_params["user_id"]
    try:
        return BY_ID[user_id]
    except KeyError:
        raise NotFoundException(f"no user {user_id}") from None


def create_app(*, viewer: ViewerResolver | None = None, clock: Callable[[], float] = time.time) -> ShieldMiddleware:
    """A fresh protected app, with fresh in-memory quotas.

    ``viewer`` names the signed-in caller from the raw request (Litestar's own authentication
    middleware runs after routing, inside the app, where shield cannot see it); ``clock`` lets
    tests freeze time.
    """
    litestar = Litestar(
        route_handlers=[list_users, get_user],
        # Litestar's default logging config also sets the root logger to INFO, which would print
        # shield's event for every refused request (``shield.events``): route those yourself.
        logging_config=LoggingConfig(configure_root_logger=False),
    )
    # Litestar types ASGI callables with TypedDicts, shield with Starlette's mappings: same protocol.
    return ShieldMiddleware(litestar, POLICY, viewer=viewer, clock=clock)  # type: ignore[arg-type]


app = create_app()
