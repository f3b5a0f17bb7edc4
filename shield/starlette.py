"""shield for Starlette: per-route settings declared with the routes.

>>> routes = [protected_route("/users", users, methods=["GET"], pagination={"size_param": "limit"})]  # doctest: +SKIP
>>> app = Starlette(routes=routes)  # doctest: +SKIP
>>> install(app, Policy.from_toml("shield.toml"))  # doctest: +SKIP

``@shield_route(...)`` on an endpoint works too; ``quotas=`` names policy quotas or defines them
inline with :func:`quota`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from shield._plugin import CollectedRoute, collect_routes, install_middleware
from shield._plugin import extend_policy as _extend
from shield._route_settings import SETTINGS_ATTRIBUTE, QuotaDeclaration, Rule, quota, route_settings, shield_route
from shield.policy import Policy

__all__ = ["extend_policy", "install", "protected_route", "quota", "shield_route"]


def protected_route(
    path: str,
    endpoint: Callable[..., Any],
    *,
    methods: Sequence[str] | None = None,
    name: str | None = None,
    include_in_schema: bool = True,
    middleware: Sequence[Middleware] | None = None,
    masking: bool | None = None,
    mask: Sequence[Rule] = (),
    pagination: Mapping[str, Any] | None = None,
    seal: Sequence[Rule] = (),
    unseal: Sequence[Rule] = (),
    quotas: str | QuotaDeclaration | Sequence[str | QuotaDeclaration] = (),
) -> Route:
    """A Starlette ``Route`` carrying ``[[route]]`` settings (see ``shield_route``) for :func:`install`.

    The settings belong to this route only, not to the endpoint: the same endpoint may be routed
    elsewhere without them.
    """
    route = Route(
        path,
        endpoint,
        methods=list(methods) if methods is not None else None,
        name=name,
        include_in_schema=include_in_schema,
        middleware=middleware,
    )
    settings = route_settings(
        masking=masking, mask=mask, pagination=pagination, seal=seal, unseal=unseal, quotas=quotas
    )
    setattr(route, SETTINGS_ATTRIBUTE, settings)
    return route


def install(app: Starlette, policy: Policy, **middleware_kwargs: Any) -> None:
    """Protect ``app`` with ``policy`` extended by the settings declared on its routes.

    Call it once every route is declared (routes added later make the app fail at startup);
    declarations are validated like the policy file and errors name the route. shield becomes
    the outermost middleware added so far, except an ``AuthenticationMiddleware`` (given to
    ``Starlette(middleware=...)`` too), which stays outside: shield reads the user it sets. Add any
    other authentication middleware *after* this call. ``middleware_kwargs`` go to
    :class:`~shield.ShieldMiddleware`.
    """
    install_middleware(app, policy, lambda: _collect(app), middleware_kwargs)


def extend_policy(app: Starlette, policy: Policy) -> Policy:
    """The policy :func:`install` would enforce: ``policy`` plus the settings on ``app``'s routes."""
    return _extend(policy, _collect(app))


def _collect(app: Starlette) -> list[CollectedRoute]:
    return collect_routes(app.routes)
