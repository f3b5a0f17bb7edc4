"""shield in front of a plain Starlette app.

Run: .venv/bin/uvicorn examples.starlette_app:app --port 8000
Try: curl 127.0.0.1:8000/customers
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shield import Policy, ShieldMiddleware

POLICY = Policy.from_dict(
    {
        "mask": [
            {"field": "phone", "kind": "phone"},
            {"field": "email", "kind": "email"},
            {"field": "name", "kind": "username"},
        ]
    }
)

CUSTOMERS = [
    {"id": 1, "name": "tommy", "phone": "13800138000", "email": "tommy@example.com", "note": "call 139 0013 9000"},
    {"id": 2, "name": "王小明", "phone": "+44 7911 123456", "email": "wxm@example.cn", "note": "VIP since 2021-03-04"},
]


async def customers(request: Request) -> JSONResponse:
    return JSONResponse({"items": CUSTOMERS})


app = Starlette(routes=[Route("/customers", customers)], middleware=[Middleware(ShieldMiddleware, policy=POLICY)])
