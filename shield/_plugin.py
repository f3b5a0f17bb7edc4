"""What the framework plugins share: collecting route settings from an app, one merged policy, installing it.

The settings themselves are declared with :mod:`shield._route_settings`. Merged into the policy
file's data and loaded with :meth:`Policy.from_dict`, they are validated exactly like the file;
errors name the route instead of a list index.
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import BaseRoute, Host, Mount, Route
from starlette.types import ASGIApp

from shield._config import suggest
from shield._route_settings import SETTINGS_ATTRIBUTE, QuotaDeclaration, RouteSettings, name_of
from shield.errors import PolicyError
from shield.middleware import ShieldMiddleware
from shield.policy import Policy

__all__ = ["CollectedRoute", "ShieldFactory", "collect_routes", "extend_policy", "install_middleware"]


def _settings_of(route: BaseRoute, endpoint: object, path: str) -> RouteSettings | None:
    """A route's settings, from the route itself or its endpoint (never both: which would win?)."""
    on_route: RouteSettings | None = getattr(route, SETTINGS_ATTRIBUTE, None)
    on_endpoint: RouteSettings | None = getattr(endpoint, SETTINGS_ATTRIBUTE, None)
    if on_route is not None and on_endpoint is not None and on_route is not on_endpoint:
        raise PolicyError(f"route[{path}]", "settings given twice: by protected_route and by @shield_route")
    return on_route or on_endpoint


@dataclass(frozen=True, slots=True)
class CollectedRoute:
    """One framework route with shield settings: its full path template, methods and declarations."""

    path: str
    methods: frozenset[str] | None
    endpoint: str
    settings: RouteSettings | None
    quotas: tuple[QuotaDeclaration, ...] = ()

    @property
    def label(self) -> str:
        methods = sorted((self.methods or frozenset()) - {"HEAD"}) or sorted(self.methods or ())
        return f"{','.join(methods) or 'ANY'} {self.path}"

    def key(self) -> tuple[object, ...]:
        """What install() saw; compared again when the app starts, to catch routes added later."""
        return (self.path, self.methods, id(self.settings), tuple(id(q) for q in self.quotas))


#: The quotas a route declares outside its settings (FastAPI: ``Depends(quota(...))``).
QuotaFinder = Callable[[Any, Route], Iterable[QuotaDeclaration]]
#: Turns a router's route list into the entries it really routes (FastAPI: included routers).
Expander = Callable[[Sequence[BaseRoute]], Iterable[Any]]


def _as_listed(routes: Sequence[BaseRoute]) -> Iterable[Any]:
    return routes


def collect_routes(
    routes: Sequence[BaseRoute],
    find_quotas: QuotaFinder | None = None,
    expand: Expander = _as_listed,
    prefix: str = "",
) -> list[CollectedRoute]:
    """Every HTTP route (below mounts too) that declares settings or quotas, in routing order.

    An entry is a route, or a wrapper that reads like one (``path``, ``methods``, ``endpoint``) and
    names it as ``original_route``: FastAPI describes routes of included routers that way.
    """
    found: list[CollectedRoute] = []
    for entry in expand(routes):
        route = getattr(entry, "original_route", entry)
        if isinstance(route, Mount):
            found += collect_routes(route.routes, find_quotas, expand, prefix + entry.path)
        elif isinstance(route, Host):  # a policy cannot tell hosts apart: the settings hold on every host
            found += collect_routes(route.routes, find_quotas, expand, prefix)
        elif isinstance(route, Route):
            path = prefix + entry.path
            settings = _settings_of(route, entry.endpoint, path)
            quotas = list(settings.quotas if settings else ())
            extra = find_quotas(entry, route) if find_quotas else ()
            quotas += [q for q in extra if all(q is not seen for seen in quotas)]
            if settings is not None or quotas:
                methods = frozenset(m.upper() for m in entry.methods) if entry.methods else None
                found.append(CollectedRoute(path, methods, name_of(entry.endpoint), settings, tuple(quotas)))
    return found


def extend_policy(policy: Policy, routes: Sequence[CollectedRoute]) -> Policy:
    """One new policy: the routes' settings before the file's routes, their paths added to quotas."""
    if not routes:
        return policy
    if policy.source is None:
        if policy != Policy():
            raise TypeError("the policy must come from Policy.from_dict or Policy.from_toml (its data is extended)")
        source: Mapping[str, Any] = {}
    else:
        source = policy.source
        _check_unchanged(policy, source)
    data = dict(source)
    file_routes = list(data.get("route", []))
    own_routes = [r for r in routes if r.settings is not None]
    tables = [_route_table(r) for r in own_routes]
    data["route"] = [*tables, *file_routes]
    file_quotas = [dict(q) if isinstance(q, Mapping) else q for q in data.get("quota", [])]
    inline = _add_quotas(file_quotas, routes)
    data["quota"] = [*file_quotas, *inline.values()]
    try:
        return Policy.from_dict(data)
    except PolicyError as exc:
        quota_names = {len(file_quotas) + i: name for i, name in enumerate(inline)}
        raise _renamed(exc, own_routes, len(tables), quota_names) from exc


def _check_unchanged(policy: Policy, source: Mapping[str, Any]) -> None:
    """A policy changed with ``dataclasses.replace`` no longer matches its data: refuse, not drop the change."""
    with warnings.catch_warnings():  # demo mode warns; the merged policy will say so once
        warnings.simplefilter("ignore")
        reloaded = Policy.from_dict(source)
    if reloaded != policy:
        raise TypeError("the policy was changed after loading; change its data and load it with Policy.from_dict")


def _route_table(route: CollectedRoute) -> dict[str, Any]:
    assert route.settings is not None  # only routes with settings get a table
    table: dict[str, Any] = {"path": route.path}
    if route.methods:
        table["methods"] = sorted(route.methods)
    return {**table, **route.settings.table}


def _add_quotas(file_quotas: list[Any], routes: Sequence[CollectedRoute]) -> dict[str, dict[str, Any]]:
    """Add each route's path to the quotas it declares; returns the inline quotas by name.

    Definitions are read first, so a route may refer by name to a quota defined on a later route.
    """
    by_name = {q.get("name"): q for q in file_quotas if isinstance(q, dict)}
    inline: dict[str, dict[str, Any]] = {}
    first: dict[str, tuple[CollectedRoute, Mapping[str, Any]]] = {}
    declarers: dict[str, list[CollectedRoute]] = {}
    for route in routes:
        for declaration in route.quotas:
            name, definition = declaration.name, declaration.definition
            if definition is None:
                continue
            if name in by_name:
                raise PolicyError(
                    f"route[{route.label}]",
                    f"quota {name!r} is already defined by the policy; refer to it with quota({name!r})",
                )
            if name not in first:
                first[name] = (route, definition)
                inline[name] = {**definition, "routes": []}
            elif first[name][1] != definition:
                raise PolicyError(
                    f"route[{route.label}]",
                    f"quota {name!r} is defined differently on {first[name][0].label}; define it once and "
                    "reuse the object, or refer to it by name",
                )
    for route in routes:
        for declaration in route.quotas:
            name = declaration.name
            target = by_name.get(name) or inline.get(name)
            if target is None:
                known = [str(n) for n in (*by_name, *inline)]
                raise PolicyError(
                    f"route[{route.label}]",
                    f"unknown quota {name!r}{suggest(name, known)} (declared on {route.endpoint}); the policy "
                    f"defines {', '.join(repr(n) for n in known) or 'none'}; define it here with "
                    f"quota({name!r}, limit=...)",
                )
            routes_of = target.get("routes", [])
            if isinstance(routes_of, list | tuple) and route.path not in routes_of:
                target["routes"] = [*routes_of, route.path]
            declarers.setdefault(name, []).append(route)
    for name, table in inline.items():
        # An inline quota counts the declaring routes' methods only (any, if one of them takes any).
        methods = [route.methods for route in declarers[name]]
        if "methods" not in table and all(methods):
            table["methods"] = sorted(set().union(*(m for m in methods if m)))
    return inline


_INDEXED = re.compile(r"\b(route|quota)\[(\d+)\]")


def _renamed(
    error: PolicyError, routes: Sequence[CollectedRoute], count: int, quota_names: Mapping[int, str]
) -> PolicyError:
    """Name the route instead of its index in the merged list; file routes keep their own index."""

    def name(match: re.Match[str]) -> str:
        index = int(match.group(2))
        if match.group(1) == "quota":
            return f"quota[{quota_names[index]}]" if index in quota_names else match.group(0)
        if index < count:
            return f"route[{routes[index].label}]"
        return f"route[{index - count}]"

    problem = _INDEXED.sub(name, error.problem)
    path = _INDEXED.sub(name, error.path)
    match = _INDEXED.match(error.path)
    if match and match.group(1) == "route" and int(match.group(2)) < count:
        problem += f" (declared on {routes[int(match.group(2))].endpoint})"
    return PolicyError(path, problem)


@dataclass(slots=True)
class ShieldFactory:
    """Builds ShieldMiddleware when the app starts, after checking that no route changed since install().

    Routes declared after ``install()`` would silently go unprotected; failing at startup says so.
    """

    policy: Policy
    collect: Callable[[], list[CollectedRoute]]
    seen: list[tuple[object, ...]]
    options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, app: ASGIApp) -> ASGIApp:
        now = [route.key() for route in self.collect()]
        if now != self.seen:
            late = sorted({route.label for route in self.collect() if route.key() not in self.seen})
            raise RuntimeError(
                "shield: route settings changed after install()"
                + (f" ({', '.join(late)})" if late else "")
                + "; call install() after declaring every route"
            )
        return ShieldMiddleware(app, self.policy, **self.options)


def install_middleware(
    app: Starlette, policy: Policy, collect: Callable[[], list[CollectedRoute]], options: Mapping[str, Any]
) -> Policy:
    """Merge the routes' settings into ``policy`` and add shield as the outermost middleware so far.

    Only an ``AuthenticationMiddleware`` already added stays outside (it runs first): shield reads
    the user it sets, and authentication sends no data that would need masking.
    """
    if app.middleware_stack is not None:
        raise RuntimeError("install() must be called before the app starts")
    position = 0
    for index, middleware in enumerate(app.user_middleware):
        cls: object = middleware.cls  # a class or, like ours, a factory
        if cls is ShieldMiddleware or isinstance(cls, ShieldFactory):
            raise RuntimeError("shield is already installed on this app")
        if cls is AuthenticationMiddleware:
            position = index + 1
    try:  # a misspelt option fails here, not when the app starts
        inspect.signature(ShieldMiddleware).bind(app, policy, **options)
    except TypeError as exc:
        raise TypeError(f"ShieldMiddleware options: {exc}") from None
    routes = collect()
    merged = extend_policy(policy, routes)
    factory = ShieldFactory(merged, collect, [r.key() for r in routes], dict(options))
    app.user_middleware.insert(position, Middleware(factory))
    return merged
