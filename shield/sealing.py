"""Sealed record IDs in the middleware: IDs out become viewer-scoped tokens, tokens in become IDs.

Responses: values at declared fields (``id``, ``items[*].buyer.id``) are sealed for the caller
(a list of IDs, each of them). Requests: declared path and query parameters are opened back
into the raw ID before the app sees them; a raw ID there is refused unless the parameter allows
it, which is what stops ``/users/100001``, ``/users/100002``… See ``docs/pagination.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from shield.errors import MalformedToken
from shield.fieldwalk import FieldRewriter
from shield.jsoncodec import RawNumber
from shield.pipeline import Exchange, Headers
from shield.queryparams import encode_query, parse_query
from shield.token_policy import SealRule, UnsealParam
from shield.tokens.records import RawId, RecordSealer

__all__ = [
    "LOCATION_HEADERS",
    "LinkResealer",
    "RecordIdStage",
    "ResealStage",
    "RouteParams",
    "rewrite_locations",
    "unseal_param",
]

# Headers that name a resource by URL: a redirect, a created record, the record a body stands for.
LOCATION_HEADERS = (b"location", b"content-location")


class RecordIdStage:
    """Seals the record IDs of a response for the identity that asked."""

    __slots__ = ("_fields", "_sealer")

    viewer_dependent = True  # tokens differ per caller: never shared-cached

    def __init__(self, sealer: RecordSealer, rules: Sequence[SealRule]) -> None:
        self._sealer = sealer
        self._fields = FieldRewriter([(rule.field, rule.kind) for rule in rules])

    def document(self, document: Any, exchange: Exchange) -> tuple[Any, int]:
        sealers: dict[str, Callable[[RawId], str]] = {}  # per kind, prepared once per response

        def seal(kind: str, value: Any) -> Any:
            raw = _raw_id(value)
            if raw is not None:
                sealer = sealers.get(kind)
                if sealer is None:
                    sealer = sealers[kind] = self._sealer.sealer(exchange.identity, kind)
                return sealer(raw)
            if type(value) is list:
                sealed = [seal(kind, item) for item in value]
                return value if all(new is old for new, old in zip(sealed, value, strict=True)) else sealed
            return value  # null, booleans, objects: not an ID

        return document, self._fields.rewrite(document, seal)

    def text(self, text: str, exchange: Exchange) -> str:
        return text

    def headers(self, headers: Headers, exchange: Exchange) -> Headers:
        return headers


class RouteParams:
    """A route's sealed parameters: those in its path template (in order) and those in its query."""

    __slots__ = ("path", "pattern", "query")

    def __init__(self, pattern: re.Pattern[str], params: Sequence[UnsealParam]) -> None:
        self.pattern = pattern
        names = pattern.groupindex
        self.path = tuple(sorted((p for p in params if p.param in names), key=lambda p: names[p.param]))
        self.query = {p.param: p for p in params if p.param not in names}

    def replace_path(self, path: str, convert: Callable[[UnsealParam, str], str]) -> str | None:
        """``path`` with each sealed path parameter's value passed through ``convert``; None if it does not match."""
        match = self.pattern.match(path)
        if match is None:
            return None
        pieces: list[str] = []
        end = 0
        for param in self.path:
            start, stop = match.span(param.param)
            pieces += (path[end:start], convert(param, match.group(param.param)))
            end = stop
        return "".join([*pieces, path[end:]])


class LinkResealer:
    """Seals a route's unsealed parameters again in the links its responses carry.

    The app got ``/users/100001/orders?buyer=100002`` and writes its next link that way; the
    client must get ``/users/<token>/orders?buyer=<token>`` back, or the raw IDs leak and the
    link is refused when followed.
    """

    __slots__ = ("_params", "_sealer")

    def __init__(self, sealer: RecordSealer, params: RouteParams) -> None:
        self._sealer = sealer
        self._params = params

    def path(self, path: str, identity: str) -> str:
        if not self._params.path:
            return path
        resealed = self._params.replace_path(path, lambda param, raw: self._seal(param, raw, identity))
        return path if resealed is None else resealed

    def url(self, text: str, identity: str, request_path: str, root_path: str) -> str:
        """A link or ``Location`` of this route with its raw IDs sealed again; others unchanged."""
        target = self._target(text, request_path, root_path)
        if target is None:
            return text
        parts, root, path = target
        pairs = self.query(parse_query(parts.query), identity) if parts.query else []
        query = encode_query(pairs) if parts.query else parts.query
        return urlunsplit(parts._replace(path=root + self.path(path, identity), query=query))

    def names(self, text: str, request_path: str, root_path: str) -> bool:
        """True when the link ``text`` points at this route."""
        return self._target(text, request_path, root_path) is not None

    def _target(self, text: str, request_path: str, root_path: str) -> tuple[SplitResult, str, str] | None:
        """The link's parts, root path and path below it, when it points at this route."""
        parts = urlsplit(text)
        if not parts.path:
            return None
        absolute = parts.path if parts.path.startswith("/") else urljoin(root_path + request_path, parts.path)
        root = root_path if root_path and absolute.startswith(root_path) else ""
        path = absolute[len(root) :] or "/"
        return (parts, root, path) if self._params.pattern.match(path) else None

    def query(self, pairs: list[tuple[str, str]], identity: str) -> list[tuple[str, str]]:
        params = self._params.query
        if not params:
            return pairs
        return [(name, self._seal(params[name], value, identity) if name in params else value) for name, value in pairs]

    def _seal(self, param: UnsealParam, raw: str, identity: str) -> str:
        value: RawId = int(raw) if raw.isascii() and raw.isdigit() else raw
        return self._sealer.seal(identity, param.kind, value)


class ResealStage:
    """``Location`` headers of a route with sealed parameters: a redirect must not hand out raw IDs.

    Frameworks redirect ``/users/<token>`` to ``/users/100001/`` (a trailing slash) from the path
    they saw, which shield had already opened.
    """

    __slots__ = ("_resealer",)

    viewer_dependent = True

    def __init__(self, resealer: LinkResealer) -> None:
        self._resealer = resealer

    def document(self, document: Any, exchange: Exchange) -> tuple[Any, int]:
        return document, 0

    def text(self, text: str, exchange: Exchange) -> str:
        return text

    def headers(self, headers: Headers, exchange: Exchange) -> Headers:
        return rewrite_locations(headers, lambda value: self._resealer.url(value, *_link_context(exchange)))


def rewrite_locations(headers: Headers, rewrite: Callable[[str], str | None]) -> Headers:
    """``Location`` and ``Content-Location`` through ``rewrite`` (None drops one); the same list when none changed."""
    if not any(name.lower() in LOCATION_HEADERS for name, _ in headers):
        return headers
    out: Headers = []
    for name, value in headers:
        if name.lower() not in LOCATION_HEADERS:
            out.append((name, value))
        elif (new := rewrite(value.decode("latin-1"))) is not None:
            out.append((name, new.encode("latin-1")))
    return out


def _link_context(exchange: Exchange) -> tuple[str, str, str]:
    """(identity, the path the client asked for below root_path, root_path)."""
    root: str = exchange.scope.get("root_path", "")
    return exchange.identity, exchange.client_path, root


def unseal_param(sealer: RecordSealer, param: UnsealParam, identity: str, value: str) -> str:
    """The raw ID a request parameter stands for, as the app expects it in a URL.

    Raises :class:`~shield.errors.TokenError` (a raw ID where ``raw = "refuse"`` is a
    :class:`~shield.errors.MalformedToken`: to a client it is just a bad token).
    """
    try:
        return str(sealer.unseal(identity, param.kind, value))
    except MalformedToken:
        if param.raw == "allow":
            return value
        raise


def _raw_id(value: Any) -> RawId | None:
    kind = type(value)
    if kind is int or kind is str:
        return value  # type: ignore[no-any-return]  # narrowed by the exact type checks
    if kind is RawNumber:
        text: str = value.text
        return int(text) if text.lstrip("-").isdigit() else text
    return None
