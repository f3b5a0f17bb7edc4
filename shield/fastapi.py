"""shield for FastAPI: per-route settings declared next to the routes, and an OpenAPI that says so.

Needs the ``fastapi`` extra (``pip install 'asgi-shield[fastapi]'``).

>>> app = FastAPI()  # doctest: +SKIP
>>> @app.get("/users/{user_id}", dependencies=[Depends(quota("profile-views"))])  # doctest: +SKIP
... @shield_route(mask=[("phone", "phone")], seal=[("id", "user")], unseal=[("user_id", "user")])
... async def user(user_id: int) -> User: ...
>>> install(app, Policy.from_toml("shield.toml"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Route

from shield._openapi import Operation, annotate_openapi
from shield._plugin import CollectedRoute, collect_routes, install_middleware
from shield._plugin import extend_policy as _extend
from shield._route_settings import QuotaDeclaration, quota, shield_route
from shield.policy import Policy

__all__ = ["extend_policy", "install", "quota", "shield_route"]


def install(app: FastAPI, policy: Policy, **middleware_kwargs: Any) -> None:
    """Protect ``app`` with ``policy`` extended by the settings declared on its routes.

    Call it once every route is declared: it reads ``app.routes`` (routes added later make the app
    fail at startup). Declarations are validated like the policy file; errors name the route.
    shield becomes the outermost middleware added so far, except an ``AuthenticationMiddleware``
    already added, which stays outside: shield reads the user it sets. Add any other
    authentication middleware *after* this call, so that it too runs before shield.
    ``middleware_kwargs`` go to :class:`~shield.ShieldMiddleware` (``viewer``, ``quota_store``…).
    The OpenAPI document gains the cursor parameters and shield's problem responses.
    """
    merged = install_middleware(app, policy, lambda: _collect(app), middleware_kwargs)
    _document(app, merged)


def extend_policy(app: FastAPI, policy: Policy) -> Policy:
    """The policy :func:`install` would enforce: ``policy`` plus the settings on ``app``'s routes."""
    return _extend(policy, _collect(app))


def _collect(app: FastAPI) -> list[CollectedRoute]:
    return collect_routes(app.routes, _declared_quotas, _entries)


def _entries(routes: Sequence[BaseRoute]) -> Iterable[Any]:
    """What the router really routes: newer FastAPI keeps included routers lazy, behind contexts."""
    expand: Callable[[Sequence[BaseRoute]], Iterable[Any]] | None = getattr(
        fastapi.routing, "iter_route_contexts", None
    )
    return expand(routes) if expand is not None else routes


def _declared_quotas(entry: Any, route: Route) -> Iterator[QuotaDeclaration]:
    """``Depends(quota(...))`` anywhere in the route's dependencies (router and app ones included)."""
    dependant = getattr(entry, "dependant", None) if isinstance(route, APIRoute) else None
    if isinstance(dependant, Dependant):
        yield from _walk(dependant)


def _walk(dependant: Dependant) -> Iterator[QuotaDeclaration]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, QuotaDeclaration):
            yield dependency.call
        yield from _walk(dependency)


def _document(app: FastAPI, policy: Policy) -> None:
    """Wrap ``app.openapi`` so the generated document (cached by FastAPI) is annotated once."""
    generate = app.openapi
    annotated: list[object] = []

    def openapi() -> dict[str, Any]:
        schema = generate()
        if not any(schema is seen for seen in annotated):
            operations = [
                Operation(entry.path_format, entry.path, method)
                for entry in _entries(app.routes)
                if isinstance(getattr(entry, "original_route", entry), APIRoute) and entry.include_in_schema
                for method in sorted(entry.methods or ())
            ]
            annotate_openapi(schema, policy, operations)
            annotated[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
