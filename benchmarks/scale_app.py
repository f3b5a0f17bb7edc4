"""The app ``benchmarks/redis_scale.py`` serves with 1, 2 and 4 uvicorn workers sharing one Redis.

A tiny endpoint behind one requests quota on Redis; the key prefix and the limit come from the
environment, since each worker process imports this module on its own.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from shield import Policy, ShieldMiddleware

PREFIX_ENV = "SHIELD_SCALE_PREFIX"
LIMIT_ENV = "SHIELD_SCALE_LIMIT"
# A long window: GCRA refills limit/window per second, which must not blur the count in a
# run of seconds (3000 per 30 days refills one request every 864 s).
WINDOW_S = 30 * 86400


def create_app() -> ShieldMiddleware:
    async def ping(request: Request) -> PlainTextResponse:
        return PlainTextResponse("pong")

    limit = int(os.environ[LIMIT_ENV])
    policy = {
        "secrets": {"hash_key": "benchmark hash key, not a secret"},
        "quotas": {"store": "redis", "redis_prefix": os.environ[PREFIX_ENV], "timeout": 2.0},
        "quota": [{"name": "pings", "limit": limit, "window": WINDOW_S, "burst": limit, "routes": ["/ping"]}],
    }
    app = Starlette(routes=[Route("/ping", ping), Route("/health", ping)])
    return ShieldMiddleware(app, Policy.from_dict(policy))
