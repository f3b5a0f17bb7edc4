"""Native pagination behind cursors: what a client sends is checked, what it receives is rewritten.

Requests: ``?cursor=<token>`` is opened (signature, identity, route, the other query
parameters, expiry, chain depth) and turned back into the app's own parameter
(``?offset=1850``); a native parameter sent by the client is refused beyond the first page (or
always); the page size is capped. Responses: next/prev/first/last links in declared JSON fields
and in ``Link`` headers become cursor URLs (or bare tokens where the app wrote a bare
position), and collection totals can be dropped or coarsened. See ``docs/pagination.md``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from shield.errors import RefusedParameter, UnmaskableResponse
from shield.fieldwalk import DROP, FieldRewriter
from shield.jsoncodec import RawNumber
from shield.linkheader import Link, rewrite_links
from shield.pipeline import Exchange
from shield.queryparams import Pairs, encode_query, guarded_values, parse_query
from shield.sealing import LinkResealer, rewrite_locations
from shield.token_policy import PaginationSettings
from shield.tokens.cursor import Cursor, CursorSealer, Position

__all__ = ["PageRequest", "PaginationStage", "Paginator"]

_LINK, _LAST, _TOTAL = "link", "last", "total"
_DIGITS = re.compile(r"^[0-9]{1,18}$")
_HEADERS_WITH_LINKS = (b"link",)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What the response side needs to know about the request it answers."""

    identity: str
    path: str  # as the client asked for it (below root_path): what cursors are bound to
    client_query: Pairs  # as the client sent it: the query a bare token is bound to
    cursor: Cursor | None  # the cursor it arrived with: new cursors continue its chain
    replay_key: str | None = None  # where its uses are counted, with a replay limit


class Paginator:
    """One route's pagination: admits requests and issues the cursors its responses carry."""

    __slots__ = ("_guarded", "_pattern", "_positions", "_reseal", "_separate", "route", "sealer", "settings")

    def __init__(
        self,
        settings: PaginationSettings,
        route: str,
        pattern: re.Pattern[str],
        sealer: CursorSealer,
        reseal: LinkResealer | None = None,
    ) -> None:
        self.settings = settings
        self.route = route
        self.sealer = sealer
        self._pattern = pattern
        self._reseal = reseal
        self._positions = (
            (settings.param, settings.cursor_param) if settings.param != settings.cursor_param else (settings.param,)
        )
        self._separate = settings.cursor_param != settings.param
        self._guarded = tuple(
            name for name in (settings.param, settings.cursor_param, settings.size_param) if name is not None
        )

    # -- requests -------------------------------------------------------------------

    def admit(self, pairs: Pairs, identity: str, path: str) -> tuple[Pairs | None, PageRequest]:
        """The query the app gets (None: unchanged) and the context for the response.

        ``path`` is the request path as the client sent it (below ``root_path``).

        Raises :class:`~shield.errors.TokenError` or :class:`~shield.errors.RefusedParameter`.
        """
        settings = self.settings
        found = guarded_values(pairs, self._guarded)
        token = found.get(settings.cursor_param)
        native = found.get(settings.param) if self._separate else None
        replace: dict[str, str] = {}
        cursor = None
        if token is not None:
            if native is not None:
                raise RefusedParameter(
                    "cursor_and_native", f"send {settings.cursor_param!r} alone, without {settings.param!r}"
                )
            cursor = self.sealer.open(token, identity, _bound(path), pairs)
            replace[settings.cursor_param] = str(cursor.position)
        elif native is not None and (settings.native == "refuse" or native != settings.first_page):
            raise RefusedParameter(
                "native_position", f"parameter {settings.param!r} is not accepted here; follow the links (cursor)"
            )
        if settings.size_param is not None and (size := found.get(settings.size_param)) is not None:
            capped = self._capped_size(size)
            if capped != size:
                replace[settings.size_param] = capped
        replay_key = None
        if cursor is not None and token is not None and settings.replay_limit is not None:
            replay_key = "replay|" + hashlib.blake2b(token.encode(), digest_size=16).hexdigest()
        request = PageRequest(identity=identity, path=path, client_query=pairs, cursor=cursor, replay_key=replay_key)
        if not replace:
            return None, request
        rewritten = [
            (settings.param if name == settings.cursor_param else name, replace.get(name, value))
            for name, value in pairs
        ]
        return rewritten, request

    def _capped_size(self, size: str) -> str:
        if not _DIGITS.fullmatch(size) or int(size) < 1:
            raise RefusedParameter("invalid_size", f"parameter {self.settings.size_param!r} must be a positive integer")
        maximum = self.settings.max_size
        return str(maximum) if maximum is not None and int(size) > maximum else size

    # -- responses ------------------------------------------------------------------

    def issue(self, page: PageRequest, path: str, query: Pairs, position: Position) -> str:
        try:
            return self.sealer.issue(page.identity, _bound(path), query, position, previous=page.cursor)
        except ValueError as exc:  # a position too long for a token (an app cursor of hundreds of bytes)
            raise UnmaskableResponse("token-too-long", str(exc)) from exc

    def rewrite_link(self, value: Any, page: PageRequest, root_path: str) -> Any:
        """A link value with its position sealed; the same object when it holds none.

        ``None`` (JSON null) replaces a link whose position is ambiguous: sealing one of several
        positions could hand out a cursor for any offset an app echoes from its input.
        """
        kind = type(value)
        if kind is str:
            return self._rewrite_text(value, page, root_path)
        if kind is int or kind is RawNumber:
            return self.issue(page, page.path, page.client_query, _position(value, self.settings.style))
        if kind is dict and type(value.get("href")) is str:  # HAL and JSON:API style {"href": ...}
            href = self._rewrite_text(value["href"], page, root_path)
            return value if href is value["href"] else {**value, "href": href}
        if kind is list:
            rewritten = [self.rewrite_link(item, page, root_path) for item in value]
            return value if all(new is old for new, old in zip(rewritten, value, strict=True)) else rewritten
        return value

    def rewrite_text(self, text: str, page: PageRequest, root_path: str) -> Any:
        """A link's text with its position sealed (or None: ambiguous); IDs of the route resealed."""
        return self._rewrite_text(text, page, root_path)

    def _rewrite_text(self, text: str, page: PageRequest, root_path: str) -> Any:
        if not text:
            return text
        if not _looks_like_url(text):
            return self.issue(page, page.path, page.client_query, _position(text, self.settings.style))
        parts = urlsplit(text)
        root = ""
        if parts.path:
            # Relative references resolve against the URL the client asked for. The host is not
            # compared: behind a proxy the app may name itself differently, and a cursor only
            # ever opens here anyway.
            absolute = parts.path if parts.path.startswith("/") else urljoin(root_path + page.path, parts.path)
            root = root_path if root_path and absolute.startswith(root_path) else ""
            path = absolute[len(root) :] or "/"
            if not self._pattern.match(path):
                return text  # another route's link: not ours to seal
        else:
            path = page.path  # "?offset=50": this route
        pairs = parse_query(parts.query)
        try:
            found = guarded_values(pairs, self._positions)
        except RefusedParameter:
            return None  # two positions, or one spelled oddly: seal neither
        if not found:  # no position in it (a first page, a self link): only its IDs to seal
            return self._reseal.url(text, page.identity, page.path, root_path) if self._reseal else text
        position = next(iter(found.values()))
        others = [(name, value) for name, value in pairs if name not in found]
        if self._reseal is not None:  # IDs opened for the app go back out sealed
            path, others = self._reseal.path(path, page.identity), self._reseal.query(others, page.identity)
        token = self.issue(page, path, others, _position(position, self.settings.style))
        query = encode_query([*others, (self.settings.cursor_param, token)])
        # A plain tuple: SplitResult._replace costs more than urlunsplit itself.
        return urlunsplit((parts.scheme, parts.netloc, root + path if parts.path else "", query, parts.fragment))

    def rewrite_header_link(self, link: Link, page: PageRequest, root_path: str) -> Link | None:
        rels = link.rels
        if self.settings.last == "drop" and "last" in rels:
            return None
        if not rels & {"next", "prev", "previous", "first", "last"}:
            return link
        target = self._rewrite_text(link.target, page, root_path)
        return None if target is None else Link(target, link.params, link.rels)


class PaginationStage:
    """The response stage: links to cursors, totals kept, dropped or coarsened."""

    __slots__ = ("_fields", "_paginator")

    viewer_dependent = True  # cursors are bound to the caller: never shared-cached

    def __init__(self, paginator: Paginator) -> None:
        settings = paginator.settings
        self._paginator = paginator
        rules = [(path, _LAST if settings.last == "drop" and _names_last(path) else _LINK) for path in settings.links]
        if settings.totals != "keep":
            rules += [(path, _TOTAL) for path in settings.total_fields]
        self._fields = FieldRewriter(rules)

    def document(self, document: Any, exchange: Exchange) -> tuple[Any, int]:
        page = exchange.page
        if page is None:
            return document, 0
        paginator = self._paginator
        totals = paginator.settings.totals
        root_path: str = exchange.scope.get("root_path", "")

        def rewrite(action: str, value: Any) -> Any:
            if action == _LINK:
                return paginator.rewrite_link(value, page, root_path)
            if action == _LAST:
                return DROP
            return DROP if totals == "drop" else _coarsened(value)

        return document, self._fields.rewrite(document, rewrite)

    def text(self, text: str, exchange: Exchange) -> str:
        return text

    def headers(self, headers: list[tuple[bytes, bytes]], exchange: Exchange) -> list[tuple[bytes, bytes]]:
        page = exchange.page
        settings = self._paginator.settings
        if page is None:
            return headers
        root_path: str = exchange.scope.get("root_path", "")
        # A redirect (a trailing slash added) is built from the native query the app saw.
        headers = rewrite_locations(headers, lambda value: self._paginator.rewrite_text(value, page, root_path))
        if not settings.link_header:
            return headers
        out: list[tuple[bytes, bytes]] = []
        for name, value in headers:
            if name.lower() not in _HEADERS_WITH_LINKS:
                out.append((name, value))
                continue
            rewritten = rewrite_links(
                value.decode("latin-1"),
                lambda link: self._paginator.rewrite_header_link(link, page, root_path),
            )
            if rewritten:  # a value that does not parse, or holds no link any more, is dropped
                out.append((name, rewritten.encode("latin-1")))
        return out


def _bound(path: str) -> str:
    """The path a cursor is bound to: with or without a trailing slash, as routes match."""
    return path.rstrip("/") or "/"


def _looks_like_url(text: str) -> bool:
    return "?" in text or text.startswith("/") or "://" in text


def _position(value: Any, style: str) -> Position:
    """The native position as the cursor stores it: an int where the style is numeric."""
    text = value.text if type(value) is RawNumber else value
    if type(text) is int:
        return text
    if style in ("offset", "page", "after_id") and isinstance(text, str) and text.isascii() and text.isdigit():
        return int(text)
    return str(text)


def _names_last(path: str) -> bool:
    return path.rsplit(".", 1)[-1].removesuffix("[*]") == "last"


def _coarsened(value: Any) -> Any:
    """Rounded down to one significant figure (48213 -> 40000): the size of the prize, blurred."""
    if type(value) is RawNumber:
        value = int(value.text) if _DIGITS.match(value.text) else value
    if type(value) is not int or value < 10:
        return value
    scale = 10 ** (len(str(value)) - 1)
    coarse = value // scale * scale
    return value if coarse == value else coarse
