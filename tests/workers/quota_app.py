"""The app ``tests/test_quota_workers.py`` serves with several uvicorn workers sharing one Redis.

uvicorn imports it in each worker process (``--app-dir tests/workers --factory``); the key
prefix comes from the environment so every test run has its own keys.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shield import Policy, ShieldMiddleware

REQUESTS_LIMIT = 50
RECORDS_LIMIT = 500
PAGE = 20


def create_app() -> ShieldMiddleware:
    async def ping(request: Request) -> JSONResponse:
        return JSONResponse({"pid": os.getpid()})

    async def items(request: Request) -> JSONResponse:
        return JSONResponse({"items": [{"id": n} for n in range(PAGE)], "pid": os.getpid()})

    policy: dict[str, Any] = {
        "secrets": {"hash_key": "workers test hash key, not secret"},
        "quotas": {"store": "redis", "redis_prefix": os.environ["SHIELD_TEST_PREFIX"], "timeout": 5.0},
        "quota": [
            {"name": "pings", "limit": REQUESTS_LIMIT, "window": 3600, "burst": REQUESTS_LIMIT, "routes": ["/ping"]},
            {"name": "records", "kind": "records", "limit": RECORDS_LIMIT, "window": 3600, "routes": ["/items"]},
        ],
        "masking": {"free_text": False},
    }
    app = Starlette(routes=[Route("/ping", ping), Route("/items", items), Route("/health", ping)])
    return ShieldMiddleware(app, Policy.from_dict(policy))
