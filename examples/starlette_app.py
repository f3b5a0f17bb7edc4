"""shield in front of a plain Starlette app, with settings declared on the routes.

Run: SHIELD_TOKEN_SECRET=$(.venv/bin/shield keys generate) .venv/bin/uvicorn examples.starlette_app:app --port 8000
Try: curl 127.0.0.1:8000/customers, then its ``next`` link, then /customers/<an id from the list>;
     curl '127.0.0.1:8000/customers?page=2' and curl 127.0.0.1:8000/customers/1 are refused.

See docs/integrations/starlette.md.
"""

from __future__ import annotations

import os
import secrets

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from shield import Policy
from shield.starlette import install, protected_route, quota

# One signing secret for every worker: `shield keys generate` prints one. Without it, each
# process makes its own, so cursors and sealed ids only open in the process that issued them.
TOKEN_SECRET = os.environ.get("SHIELD_TOKEN_SECRET") or secrets.token_urlsafe(32)

POLICY = Policy.from_dict(
    {
        "tokens": {"secrets": [TOKEN_SECRET]},
        "mask": [
            {"field": "phone", "kind": "phone"},
            {"field": "email", "kind": "email"},
            {"field": "name", "kind": "username"},
        ],
        "quota": [{"name": "lists", "limit": 60, "window": 60, "routes": ["/customers"]}],
    }
)

CUSTOMERS = [
    {"id": 1, "name": "tommy", "phone": "13800138000", "email": "tommy@example.com", "note": "call 139 0013 9000"},
    {"id": 2, "name": "王小明", "phone": "+44 7911 123456", "email": "wxm@example.cn", "note": "VIP since 2021-03-04"},
    {"id": 3, "name": "lucas", "phone": "15912345678", "email": "lucas@example.com", "note": "prefers email"},
]
PAGE_SIZE = 2


async def customers(request: Request) -> JSONResponse:
    page = int(request.query_params.get("page", "1"))
    rows = CUSTOMERS[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    following = f"/customers?page={page + 1}" if page * PAGE_SIZE < len(CUSTOMERS) else None
    return JSONResponse({"items": rows, "next": following})


async def customer(request: Request) -> JSONResponse:
    wanted = request.path_params["customer_id"]
    found = next((row for row in CUSTOMERS if row["id"] == wanted), None)
    return JSONResponse(found or {"detail": "no such customer"}, status_code=200 if found else 404)


app = Starlette(
    routes=[
        protected_route(
            "/customers",
            customers,
            seal=[("items[*].id", "customer")],
            pagination={"style": "page", "links": ["$.next"]},
            quotas="lists",  # a quota of the policy, by name
        ),
        protected_route(
            "/customers/{customer_id:int}",
            customer,
            seal=[("id", "customer")],
            unseal=[("customer_id", "customer")],
            quotas=quota("profile-views", limit=20, window=60),  # a quota defined here
        ),
    ]
)
# Last, once every route is declared (AuthenticationMiddleware passed to Starlette() stays outside).
install(app, POLICY)
