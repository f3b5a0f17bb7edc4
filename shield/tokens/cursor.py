"""Cursor tokens: an app's native page position, sealed and bound to who may walk it, where.

A cursor carries the position the app understands (an offset, a page number, an after-id or
the app's own cursor string) and is bound to the caller (a keyed digest of the identity, never
the identity), the route (shield binds the request path as the client sent it: a cursor of
``/shops/1/items`` does not open on ``/shops/2/items``) and a digest of the other query
parameters, so a cursor harvested by one client, or replayed with other filters, opens nowhere
else. It also carries a
chain: the time of the first page and the number of pages walked since, so a crawl cannot keep
itself alive by refreshing, nor walk forever.

Payload, CBOR with one-letter keys (a typical signed or encrypted cursor is ~110 characters)::

    i  identity digest, 8 bytes      r  route digest, 6 bytes     q  query digest, 6 bytes
    p  position (int or str)         t  issued at (Unix seconds)
    x  expires_at - t                c  t - chain_start           d  depth (first cursor: 1)
    n  4 random bytes (only with ``unique``)

The digests are keyed BLAKE2b under a key of the token's own epoch (see
:mod:`~shield.tokens.binding`). See ``docs/tokens.md`` for lifetimes and errors.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import orjson

from shield.clock import Clock, system_clock
from shield.errors import ChainTooDeep, ExpiredCursor, ForeignToken, MalformedToken
from shield.tokens.binding import BindingKeys, keyed_digest
from shield.tokens.codec import TokenCodec

__all__ = ["Cursor", "CursorSealer", "Position", "QueryParams", "query_bytes"]

Position: TypeAlias = int | str
QueryParams: TypeAlias = Mapping[str, str] | Sequence[tuple[str, str]]

IDENTITY_BYTES = 8  # 2**64: collisions between two callers' digests are not a practical attack
ROUTE_BYTES = 6  # like the query: a forged match across paths needs a second preimage, 2**48 online tries
NONCE_BYTES = 4  # with ``unique``: two walks in the same second never share a cursor (or its replay count)
QUERY_BYTES = 6  # a forged match needs a second preimage under an unknown key: 2**48 online tries
_PERSON_IDENTITY = b"shield identity"
_PERSON_ROUTE = b"shield route"
_PERSON_QUERY = b"shield query"


@dataclass(frozen=True, slots=True)
class Cursor:
    """An opened cursor. ``identity`` and ``query`` are digests, never the values themselves."""

    position: Position
    identity: bytes
    route: str
    query: bytes
    issued_at: int
    expires_at: int
    chain_start: int
    depth: int


def query_bytes(query: QueryParams, exclude: frozenset[str]) -> bytes:
    """Canonical bytes of the query parameters not in ``exclude``: the sorted pairs, as JSON.

    Sorting makes the digest order-insensitive (``?a=1&b=2`` binds like ``?b=2&a=1``); repeated
    names keep every value; JSON quoting keeps ``("a", "b=c")`` apart from ``("a=b", "c")``.
    Pass a multi-valued mapping's pairs (Starlette's ``query_params.multi_items()``), since a
    plain mapping shows one value per name.
    """
    items = query.items() if isinstance(query, Mapping) else query
    pairs = sorted([pair for pair in items if pair[0] not in exclude])
    try:
        return orjson.dumps(pairs)
    except orjson.JSONEncodeError:
        # Lone surrogates, which orjson refuses: length-prefixed bytes that, starting with
        # NUL, can never equal a JSON spelling.
        parts = [b"\x00"]
        for pair in pairs:
            for text in pair:
                raw = text.encode("utf-8", "surrogatepass")
                parts += (len(raw).to_bytes(4, "big"), raw)
        return b"".join(parts)


class CursorSealer:
    """Issues and opens cursor tokens with a :class:`~shield.tokens.codec.TokenCodec`.

    >>> from shield.tokens import Keyring, TokenCodec
    >>> sealer = CursorSealer(TokenCodec(Keyring(["a secret of at least 32 bytes......"])),
    ...                       exclude={"cursor", "offset"})
    >>> token = sealer.issue("api-key:alice", "/items", {"sort": "name", "offset": "0"}, 50)
    >>> sealer.open(token, "api-key:alice", "/items", {"sort": "name"}).position
    50

    ``ttl``: seconds one cursor lives. ``chain_ttl``: seconds a chain lives after its first
    page, however often it is refreshed. ``max_depth``: how many cursors a chain may walk past
    the first page (the first page's cursor has depth 1). ``exclude``: query parameter names
    left out of the query digest: the cursor parameter and the route's native position
    parameters, which the cursor replaces. ``unique`` adds 4 random bytes, so equal cursors
    issued in the same second differ (for replay counting). ``detailed_errors``: see
    :class:`~shield.errors.ForeignToken`.
    """

    def __init__(
        self,
        codec: TokenCodec,
        *,
        ttl: int = 900,
        chain_ttl: int = 3600,
        max_depth: int = 1000,
        exclude: Iterable[str] = ("cursor",),
        purpose: str = "cursor",
        detailed_errors: bool = False,
        unique: bool = False,
        clock: Clock = system_clock,
    ) -> None:
        if isinstance(exclude, str):
            raise ValueError("exclude is a collection of parameter names, not a single name")
        for name, value in (("ttl", ttl), ("chain_ttl", chain_ttl), ("max_depth", max_depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}")
        if ttl > codec.keyring.epoch_seconds:
            # The key epoch would expire the cursor first, at a time that depends on when in the
            # epoch it was issued: lifetimes would be arbitrary.
            raise ValueError(f"ttl ({ttl}) must not exceed the keyring's epoch_seconds ({codec.keyring.epoch_seconds})")
        self.codec = codec
        self.ttl = ttl
        self.chain_ttl = chain_ttl
        self.max_depth = max_depth
        self.exclude = frozenset(exclude)
        self.purpose = purpose
        self.detailed_errors = detailed_errors
        self.unique = unique
        self._clock = clock
        self._keys = BindingKeys(codec, purpose)

    def issue(
        self,
        identity: str,
        route: str,
        query: QueryParams,
        position: Position,
        previous: Cursor | None = None,
    ) -> str:
        """A token for ``position`` that only ``identity`` can open, on ``route`` with this query.

        ``previous`` is the cursor this request arrived with (from :meth:`open`): the new one
        continues its chain (same start, depth + 1). Without it a new chain starts now.
        """
        if isinstance(position, bool) or not isinstance(position, int | str):
            raise TypeError(f"a cursor position is an int or a str, got {type(position).__name__}")
        issued = int(self._clock())
        if previous is None:
            chain_start, depth = issued, 1
        else:
            chain_start, depth = previous.chain_start, previous.depth + 1
        expires = min(issued + self.ttl, chain_start + self.chain_ttl)
        identity_raw = _utf8(identity)
        route_raw = _utf8(route)
        query_raw = query_bytes(query, self.exclude)

        def build(key: bytes) -> dict[str, Any]:
            return {
                "i": keyed_digest(key, _PERSON_IDENTITY, identity_raw, IDENTITY_BYTES),
                "r": keyed_digest(key, _PERSON_ROUTE, route_raw, ROUTE_BYTES),
                "q": keyed_digest(key, _PERSON_QUERY, query_raw, QUERY_BYTES),
                "p": position,
                "t": issued,
                "x": max(0, expires - issued),
                "c": max(0, issued - chain_start),
                "d": depth,
                **({"n": os.urandom(NONCE_BYTES)} if self.unique else {}),
            }

        return self._keys.seal(self.purpose, build)

    def open(self, token: str, identity: str, route: str, query: QueryParams) -> Cursor:
        """The cursor in ``token`` if it was issued to ``identity`` for ``route`` and ``query``.

        Checks, in order: the codec's (length, encoding, key id, epoch, tag:
        :class:`~shield.errors.MalformedToken`, :class:`~shield.errors.ExpiredToken`), then the
        binding (:class:`~shield.errors.ForeignToken`) before anything time- or depth-related,
        so a foreign token is refused alike whatever its age; then the chain's lifetime and the
        cursor's expiry (:class:`~shield.errors.ExpiredCursor`), then the depth
        (:class:`~shield.errors.ChainTooDeep`).
        """
        payload = self.codec.unseal(self.purpose, token)
        key = self._keys.for_token(token)
        cursor, route_digest = _read(payload, route)
        for reason, found, expected in (
            ("foreign_identity", cursor.identity, keyed_digest(key, _PERSON_IDENTITY, _utf8(identity), IDENTITY_BYTES)),
            ("foreign_route", route_digest, keyed_digest(key, _PERSON_ROUTE, _utf8(route), ROUTE_BYTES)),
            (
                "foreign_query",
                cursor.query,
                keyed_digest(key, _PERSON_QUERY, query_bytes(query, self.exclude), QUERY_BYTES),
            ),
        ):
            if not hmac.compare_digest(found, expected):
                raise ForeignToken(reason, detailed=self.detailed_errors)
        now = self._clock()
        if now >= cursor.chain_start + self.chain_ttl:
            raise ExpiredCursor("chain_expired")
        if now >= cursor.expires_at:
            raise ExpiredCursor("expired")
        if cursor.depth > self.max_depth:
            raise ChainTooDeep("too_deep")
        return cursor


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _read(payload: dict[str, Any], route: str) -> tuple[Cursor, bytes]:
    """The payload as a :class:`Cursor` and its route digest; an authentic payload of the wrong shape is malformed."""
    try:
        identity, route_digest, query = payload["i"], payload["r"], payload["q"]
        position, issued, lifetime, age, depth = payload["p"], payload["t"], payload["x"], payload["c"], payload["d"]
    except KeyError as exc:
        raise MalformedToken("bad_payload") from exc
    if not (
        _is_bytes(identity, IDENTITY_BYTES)
        and _is_bytes(route_digest, ROUTE_BYTES)
        and _is_bytes(query, QUERY_BYTES)
        and isinstance(position, int | str)
        and not isinstance(position, bool)
        and all(type(n) is int and n >= 0 for n in (issued, lifetime, age, depth))
    ):
        raise MalformedToken("bad_payload")
    cursor = Cursor(
        position=position,
        identity=identity,
        route=route,
        query=query,
        issued_at=issued,
        expires_at=issued + lifetime,
        chain_start=issued - age,
        depth=depth,
    )
    return cursor, route_digest


def _is_bytes(value: object, size: int) -> bool:
    return isinstance(value, bytes) and len(value) == size
