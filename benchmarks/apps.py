"""The apps under load: a FastAPI app and a plain Starlette app serving the same users.

Both do the work a real endpoint does per request (slice rows, validate and serialise through
``response_model`` for FastAPI, ``JSONResponse`` for Starlette), so the middleware's cost is
measured against a realistic baseline rather than a constant byte string.

uvicorn loads them with ``benchmarks.apps:create_app --factory``; the framework and variant come
from the environment because a factory takes no arguments.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from benchmarks import fakedata
from benchmarks.variants import VARIANTS

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import ASGIApp

FRAMEWORK_ENV = "SHIELD_BENCH_FRAMEWORK"
VARIANT_ENV = "SHIELD_BENCH_VARIANT"
MAX_LIMIT = 100


class User(BaseModel):
    """The public shape of a user, as ``response_model`` validates it."""

    id: int
    username: str
    phone: str
    email: str
    city: str
    created_at: datetime
    bio: str


class UserPage(BaseModel):
    """One page of users with offset pagination."""

    items: list[User]
    total: int
    offset: int
    limit: int
    next: str | None


def fastapi_app() -> ASGIApp:
    """FastAPI with pydantic models and ``response_model``, as most shield users will run it."""
    app = FastAPI(title="shield benchmark", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/users", response_model=UserPage)
    async def list_users(
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    ) -> dict[str, object]:
        rows = [u.row() for u in fakedata.page(offset, limit)]
        return {
            "items": rows,
            "total": fakedata.USER_COUNT,
            "offset": offset,
            "limit": limit,
            "next": _next(offset, limit),
        }

    @app.get("/users/{user_id}", response_model=User)
    async def get_user(user_id: int) -> dict[str, object]:
        user = fakedata.by_id(user_id)
        if user is None:
            raise HTTPException(status_code=404, detail="user not found")
        return user.row()

    return app


def starlette_app() -> ASGIApp:
    """Plain Starlette with ``JSONResponse``: the same endpoints without validation."""

    async def list_users(request: Request) -> JSONResponse:
        try:
            offset = int(request.query_params.get("offset", "0"))
            limit = int(request.query_params.get("limit", "50"))
        except ValueError:
            return JSONResponse({"detail": "offset and limit must be integers"}, status_code=422)
        if offset < 0 or not 1 <= limit <= MAX_LIMIT:
            return JSONResponse({"detail": "offset or limit out of range"}, status_code=422)
        rows = [u.json_row() for u in fakedata.page(offset, limit)]
        page = {
            "items": rows,
            "total": fakedata.USER_COUNT,
            "offset": offset,
            "limit": limit,
            "next": _next(offset, limit),
        }
        return JSONResponse(page)

    async def get_user(request: Request) -> JSONResponse:
        user = fakedata.by_id(request.path_params["user_id"])
        if user is None:
            return JSONResponse({"detail": "user not found"}, status_code=404)
        return JSONResponse(user.json_row())

    return Starlette(routes=[Route("/users", list_users), Route("/users/{user_id:int}", get_user)])


def _next(offset: int, limit: int) -> str | None:
    """The next page's link, as most list APIs send one."""
    following = offset + limit
    return f"/users?offset={following}&limit={limit}" if following < fakedata.USER_COUNT else None


FRAMEWORKS = {"fastapi": fastapi_app, "starlette": starlette_app}


def build_app(framework: str, variant: str) -> ASGIApp:
    """The ``framework`` app wrapped as ``variant`` says.

    Raises ``KeyError`` for unknown names and ``VariantUnavailable`` when the variant cannot be
    built here.
    """
    if framework not in FRAMEWORKS:
        raise KeyError(f"unknown framework {framework!r}; known: {', '.join(FRAMEWORKS)}")
    if variant not in VARIANTS:
        raise KeyError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    fakedata.users()  # build the rows now, not during the first measured request
    return VARIANTS[variant].wrap(FRAMEWORKS[framework]())


def create_app() -> ASGIApp:
    """uvicorn ``--factory`` entry point; reads the framework and variant from the environment."""
    return build_app(os.environ.get(FRAMEWORK_ENV, "fastapi"), os.environ.get(VARIANT_ENV, "bare"))
