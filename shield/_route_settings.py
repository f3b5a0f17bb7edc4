"""Settings declared next to a route: ``@shield_route``, ``protected_route`` and ``quota(...)``.

They are kept as the same dict shape as a ``[[route]]`` table of the policy file, so the plugins
load them with :meth:`~shield.Policy.from_dict` and they are validated exactly like the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from shield.errors import PolicyError

__all__ = [
    "SETTINGS_ATTRIBUTE",
    "QuotaDeclaration",
    "RouteSettings",
    "Rule",
    "name_of",
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
            raise TypeError(f"{name_of(endpoint)} already has @shield_route settings")
        setattr(endpoint, SETTINGS_ATTRIBUTE, settings)
        return endpoint

    return attach


def name_of(endpoint: object) -> str:
    module = getattr(endpoint, "__module__", None)
    qualname = getattr(endpoint, "__qualname__", None) or type(endpoint).__qualname__
    return f"{module}.{qualname}" if module else qualname
