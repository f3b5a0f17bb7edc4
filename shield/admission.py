"""The request side of a route: cursors and sealed IDs turned back into what the app expects.

Runs before the app. It reads the query string once, lets the route's paginator and unsealed
parameters check and rewrite it, opens sealed path parameters, and hands the app a scope with
native values only. Anything it refuses raises :class:`~shield.errors.RequestRefused`.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.routing import compile_path
from starlette.types import Scope

from shield.pagination import PageRequest, Paginator
from shield.queryparams import encode_query, guarded_values, parse_query
from shield.sealing import RouteParams, unseal_param
from shield.tokens.records import RecordSealer

__all__ = ["RouteAdmission", "route_path", "route_pattern"]

_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}")


def route_path(scope: Scope) -> str:
    """The path as the app's router sees it: below ``root_path`` when mounted or proxied."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path


def route_pattern(template: str, sealed: frozenset[str] = frozenset(), *, every_param: bool = False) -> re.Pattern[str]:
    """The template's regex, with or without a trailing slash (routers redirect or accept both).

    A sealed parameter matches any segment: a token is not an int. Quotas loosen ``every_param``:
    they are decided before sealed IDs are opened, and counting a request the app will refuse
    errs on the safe side.
    """

    def loosen(match: re.Match[str]) -> str:
        convertor = match.group(2) or ""
        if (every_param or match.group(1) in sealed) and convertor != ":path":
            return "{" + match.group(1) + "}"
        return match.group(0)

    loosened = _PARAM.sub(loosen, template)
    pattern = compile_path(loosened)[0].pattern
    if template != "/" and pattern.endswith("$"):
        pattern = pattern[:-1].removesuffix("/") + "/?$"
    return re.compile(pattern)


class RouteAdmission:
    """Checks and rewrites one route's requests; shared by all of them (no request state)."""

    __slots__ = ("_params", "_sealer", "paginator")

    def __init__(self, params: RouteParams, paginator: Paginator | None, sealer: RecordSealer | None) -> None:
        if (params.path or params.query) and sealer is None:
            raise ValueError("unsealing parameters needs a record sealer")
        self._params = params
        self.paginator = paginator
        self._sealer = sealer

    def admit(self, scope: Scope, identity: str) -> tuple[Scope, PageRequest | None]:
        """The scope the app gets and, on a paginated route, the context for its response."""
        pairs = parse_query(scope.get("query_string", b""))
        new_pairs = None
        page = None
        if self.paginator is not None:
            new_pairs, page = self.paginator.admit(pairs, identity, route_path(scope))
        if self._params.query:
            new_pairs = self._unseal_query(new_pairs or pairs, identity)
        new_path = self._unseal_path(scope, identity) if self._params.path else None
        if new_pairs is None and new_path is None:
            return scope, page
        scope = dict(scope)
        if new_pairs is not None:
            scope["query_string"] = encode_query(new_pairs).encode("latin-1", errors="strict")
        if new_path is not None:
            scope["path"] = new_path
            if "raw_path" in scope:
                scope["raw_path"] = quote(new_path).encode("ascii")
            if scope.get("path_params"):  # shield runs after routing (a per-route middleware)
                scope["path_params"] = self._opened_params(scope["path_params"], route_path(scope))
        return scope, page

    def _opened_params(self, params: dict[str, object], path: str) -> dict[str, object]:
        """The router's path parameters with the sealed ones replaced by what was opened."""
        match = self._params.pattern.match(path)
        if match is None:
            return params
        opened = {p.param: match.group(p.param) for p in self._params.path if p.param in params}
        return {**params, **opened}

    def _unseal_query(self, pairs: list[tuple[str, str]], identity: str) -> list[tuple[str, str]] | None:
        sealer = self._sealer
        assert sealer is not None  # checked in __init__
        query = self._params.query
        found = guarded_values(pairs, query)
        if not found:
            return None
        opened = {name: unseal_param(sealer, query[name], identity, value) for name, value in found.items()}
        return [(name, opened.get(name, value)) for name, value in pairs]

    def _unseal_path(self, scope: Scope, identity: str) -> str | None:
        sealer = self._sealer
        assert sealer is not None  # checked in __init__
        path = route_path(scope)
        rewritten = self._params.replace_path(path, lambda param, value: unseal_param(sealer, param, identity, value))
        if rewritten is None:
            return None
        full: str = scope["path"]
        prefix = full[: len(full) - len(path)]
        return prefix + rewritten
