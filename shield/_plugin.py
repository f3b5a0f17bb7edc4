"""What the framework plugins share: per-route settings, collecting them from routes, one merged policy.

Settings declared next to a route (``@shield_route``, ``protected_route``, ``quota(...)``) are
turned into the same dict shape as the TOML file and loaded with :meth:`Policy.from_dict`, so
they are validated exactly like the file; errors name the route instead of a list index.
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import BaseRoute, Host, Mount, Route
from starlette.types import ASGIApp

from shield._config import suggest
from shield.errors import PolicyError
from shield.middleware import ShieldMiddleware
from shield.policy import Policy

__all__ = [
    "SETTINGS_ATTRIBUTE",
    "CollectedRoute",
    "QuotaDeclaration",
    "RouteSettings",
    "Rule",
    "ShieldFactory",
    "collect_routes",
    "extend_policy",
    "install_middleware",
    "quota",
    "route_settings",
    "shield_route",
]

#: Where settings live: on an endpoint (``@shield_route``) or on a Route (``protected_route``).
SETTINGS_ATTRIBUTE = "__shield_route__"

Endpoint = TypeVar("Endpoint")
#: A mask or seal rule as ``(field, kind)``, an unseal rule as ``(param, kind)``, or the full table.
Rule = tuple[str, str] | Mapping[str, Any]


class QuotaDeclaration:
    """``quota(name)``: the route is counted by a quota; also a FastAPI dependency that does nothing.

    shield counts requests in its middleware, before the app; the dependency only marks the route
    so that :func:`install` finds it. ``definition`` is None for a reference to a policy quota.
    """

    __slots__ = ("definition", "name")

    def __init__(self, name: str, definition: Mapping[str, Any] | None) -> None:
        self.name = name
        self.definition = definition

    async def __call__(self) -> None:
        """Nothing to do per request (async, so FastAPI does not send it to a thread)."""

    def __repr__(self) -> str:
        return f"quota({self.name!r}{', inline' if self.definition is not None else ''})"


def quota(
    name: str,
    *,
    limit: int | None = None,
    window: float | None = None,
    kind: str | None = None,
    **options: Any,
) -> QuotaDeclaration:
    """Count the route by the policy quota ``name``, or define the quota here with ``limit=``.

    >>> Depends(quota("profile-views"))  # doctest: +SKIP
    >>> Depends(quota("exports", limit=10, window=3600, kind="requests", per=["user"]))  # doctest: +SKIP

    ``options`` are the other ``[[quota]]`` keys (``burst``, ``per``, ``group``, ``methods``…);
    ``routes`` is filled in by :func:`install`. An inline quota's ``methods`` default to those of
    the routes that declare it.
    """
    if limit is None:
        if window is not None or kind is not None or options:
            raise PolicyError(
                f"quota({name!r})", "a reference to a policy quota takes no settings; give limit= to define one here"
            )
        return QuotaDeclaration(name, None)
    if "routes" in options or "name" in options:
        raise PolicyError(f"quota({name!r})", "routes come from the routes that declare the quota")
    definition: dict[str, Any] = {"name": name, "limit": limit, **options}
    if window is not None:
        definition["window"] = window
    if kind is not None:
        definition["kind"] = kind
    return QuotaDeclaration(name, definition)


@dataclass(frozen=True, slots=True, eq=False)
class RouteSettings:
    """A route's own ``[[route]]`` keys (``table``) and the quotas that count it."""

    table: Mapping[str, Any]
    quotas: tuple[QuotaDeclaration, ...] = ()


def route_settings(
    *,
    masking: bool | None = None,
    mask: Sequence[Rule] = (),
    pagination: Mapping[str, Any] | None = None,
    seal: Sequence[Rule] = (),
    unseal: Sequence[Rule] = (),
    quotas: str | QuotaDeclaration | Sequence[str | QuotaDeclaration] = (),
) -> RouteSettings:
    """The keyword arguments of ``shield_route`` / ``protected_route`` as ``[[route]]`` keys."""
    table: dict[str, Any] = {}
    if masking is not None:
        table["masking"] = masking
    for key, rules, first in (("mask", mask, "field"), ("seal", seal, "field"), ("unseal", unseal, "param")):
        if rules:
            table[key] = [_rule(rule, first) for rule in rules]
    if pagination is not None:
        table["pagination"] = dict(pagination)
    if isinstance(quotas, str | QuotaDeclaration):
        quotas = [quotas]
    declared = tuple(q if isinstance(q, QuotaDeclaration) else quota(q) for q in quotas)
    return RouteSettings(table, declared)


def _rule(rule: Rule, first: str) -> object:
    """``("phone", "phone")`` is ``{field = "phone", kind = "phone"}``; anything else goes to validation."""
    if isinstance(rule, tuple) and len(rule) == 2:
        return {first: rule[0], "kind": rule[1]}
    return dict(rule) if isinstance(rule, Mapping) else rule


def shield_route(
    *,
    masking: bool | None = None,
    mask: Sequence[Rule] = (),
    pagination: Mapping[str, Any] | None = None,
    seal: Sequence[Rule] = (),
    unseal: Sequence[Rule] = (),
    quotas: str | QuotaDeclaration | Sequence[str | QuotaDeclaration] = (),
) -> Callable[[Endpoint], Endpoint]:
    """Attach ``[[route]]`` settings to an endpoint; :func:`install` applies them to its routes.

    The keys are those of ``[[route]]`` in the policy (docs/policy.md): ``mask`` and ``seal`` take
    ``(field, kind)`` pairs, ``unseal`` takes ``(param, kind)`` pairs, each also as a full table.
    The endpoint is returned unchanged (no wrapper), so frameworks still see its signature.
    """
    settings = route_settings(
        masking=masking, mask=mask, pagination=pagination, seal=seal, unseal=unseal, quotas=quotas
    )

    def attach(endpoint: Endpoint) -> Endpoint:
        if getattr(endpoint, SETTINGS_ATTRIBUTE, None) is not None:
            raise TypeError(f"{_name_of(endpoint)} already has @shield_route settings")
        setattr(endpoint, SETTINGS_ATTRIBUTE, settings)
        return endpoint

    return attach


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
                found.append(CollectedRoute(path, methods, _name_of(entry.endpoint), settings, tuple(quotas)))
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


def _name_of(endpoint: object) -> str:
    module = getattr(endpoint, "__module__", None)
    qualname = getattr(endpoint, "__qualname__", None) or type(endpoint).__qualname__
    return f"{module}.{qualname}" if module else qualname


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
