"""Every key a request carries, for quotas to count against and tokens to bind to.

A request may carry an API key, an authenticated user, a session cookie and (nearly always) a
client address. Quotas count against *every* key present, so rotating one of them (fresh API
keys from one /64) does not escape the others; tokens bind to the ``primary`` key, the first one
present in the configured order.

Header values that cannot be a real credential (empty, over 256 bytes, control or non-ASCII
characters) count as absent rather than raising: the request still carries its network keys, so
junk gains a client nothing it would not get by sending no key at all.

>>> scope = {"type": "http", "client": ("203.0.113.7", 4711), "headers": [(b"x-api-key", b"k-123")]}
>>> requester = resolve_requester(scope, IdentitySources())
>>> [(k.source, k.value) for k in requester.keys]
[('api_key', 'k-123'), ('network', 'ip4:203.0.113.7/32')]
>>> requester.primary
IdentityKey(source='api_key', value='k-123')
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.requests import cookie_parser
from starlette.types import Scope

from shield.clientip import IPAddress, ProxyHeader, TrustedProxies, check_prefixes, client_address, network_keys

__all__ = ["SOURCES", "IdentityKey", "IdentitySources", "Requester", "UserResolver", "resolve_requester"]

#: Every identity source, in the default order: most to least specific to one caller.
SOURCES: Final = ("api_key", "user", "session", "network")
#: The longest API key or session cookie taken as a credential (longer ones count as absent).
MAX_CREDENTIAL_BYTES: Final = 256

UserResolver = Callable[[Scope], str | None]

_TRUST_NONE = TrustedProxies(())  # immutable, so one shared default is safe
_VISIBLE_ASCII = bytes(range(0x20, 0x7F))
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True, slots=True)
class IdentityKey:
    """One key a request carries. ``value`` is raw (an API key!): hash it before storing or logging."""

    source: str  # "api_key" | "user" | "session" | "network"
    value: str


@dataclass(frozen=True, slots=True)
class Requester:
    """Who is asking: every key present, the one tokens bind to, and the resolved address.

    ``keys == ()`` (so ``primary is None``) happens only when no source matched and there is no
    usable address (a Unix socket, a test client). Callers must not let such a request through
    unaccounted: bucket all of them under one shared "anonymous" key (fail closed).
    """

    keys: tuple[IdentityKey, ...]
    primary: IdentityKey | None
    address: IPAddress | None


@dataclass(frozen=True, slots=True)
class IdentitySources:
    """Where keys come from, validated once (``ValueError`` on bad configuration).

    ``order`` lists the sources to read; the first present one is the ``primary`` key. The
    ``network`` source yields one key per prefix, most specific first. ``user`` overrides the
    default reader, which takes ``scope["user"].identity`` when ``is_authenticated`` (Starlette's
    ``AuthenticationMiddleware``; it must run *before* shield for quotas to see it).
    """

    order: tuple[str, ...] = SOURCES
    api_key_header: str = "x-api-key"
    session_cookie: str | None = None
    user: UserResolver | None = None
    trusted_proxies: TrustedProxies = _TRUST_NONE
    forwarded_header: ProxyHeader | None = "x-forwarded-for"
    ipv4_prefixes: tuple[int, ...] = (32,)
    ipv6_prefixes: tuple[int, ...] = (64,)
    # Derived once for the hot path.
    _api_key_name: bytes | None = field(init=False, repr=False, compare=False)
    _cookie_name: str | None = field(init=False, repr=False, compare=False)
    _reads_headers: bool = field(init=False, repr=False, compare=False)
    _network_keys: Callable[[IPAddress], tuple[IdentityKey, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        order = tuple(self.order) if isinstance(self.order, list | tuple) else ()
        if not order:
            raise ValueError(f"identity order must be a non-empty list of sources {list(SOURCES)}, got {self.order!r}")
        for source in order:
            if source not in SOURCES:
                raise ValueError(f"unknown identity source {source!r}; expected one of {list(SOURCES)}")
        if len(set(order)) != len(order):
            raise ValueError(f"identity order {list(order)} names a source twice")
        header = self.api_key_header
        if not isinstance(header, str) or not header or not _TOKEN_CHARS.issuperset(header):
            raise ValueError(f"api_key_header must be an HTTP header name, got {header!r}")
        cookie = self.session_cookie
        if cookie is not None and (not isinstance(cookie, str) or not cookie or not _TOKEN_CHARS.issuperset(cookie)):
            raise ValueError(f"session_cookie must be a cookie name, got {cookie!r}")
        if self.user is not None and not callable(self.user):
            raise ValueError(f"user must be a callable taking the scope, got {self.user!r}")
        if not isinstance(self.trusted_proxies, TrustedProxies):
            raise ValueError(f"trusted_proxies must be a TrustedProxies, got {self.trusted_proxies!r}")
        if self.forwarded_header not in ("x-forwarded-for", "forwarded", None):
            raise ValueError(
                f"forwarded_header must be 'x-forwarded-for', 'forwarded' or None, got {self.forwarded_header!r}"
            )
        set_ = object.__setattr__  # frozen: normalise in place, once
        set_(self, "order", order)
        set_(self, "api_key_header", header.lower())
        set_(self, "ipv4_prefixes", check_prefixes(self.ipv4_prefixes, 4))
        set_(self, "ipv6_prefixes", check_prefixes(self.ipv6_prefixes, 6))
        set_(self, "_api_key_name", header.lower().encode("ascii") if "api_key" in order else None)
        set_(self, "_cookie_name", cookie if "session" in order else None)
        set_(self, "_reads_headers", self._api_key_name is not None or self._cookie_name is not None)
        set_(self, "_network_keys", _network_identity(self.ipv4_prefixes, self.ipv6_prefixes))


def _network_identity(
    ipv4_prefixes: tuple[int, ...], ipv6_prefixes: tuple[int, ...]
) -> Callable[[IPAddress], tuple[IdentityKey, ...]]:
    """A cached address → network keys function with the prefixes bound (a cheaper cache key)."""

    @functools.lru_cache(maxsize=8192)
    def cached(address: IPAddress) -> tuple[IdentityKey, ...]:
        keys = network_keys(address, ipv4_prefixes=ipv4_prefixes, ipv6_prefixes=ipv6_prefixes)
        return tuple(IdentityKey("network", key) for key in keys)

    return cached


def resolve_requester(scope: Scope, sources: IdentitySources) -> Requester:
    """Read every configured key from ``scope``, in ``sources.order``.

    API key: several header lines carrying it make it absent. Shield cannot know which copy the
    app (or a gateway in front) honours, so it attributes the request to none of them; a client
    gains nothing it could not get by sending no key, and it still carries its network keys.
    Session: all ``Cookie`` lines are read (HTTP/2 splits cookies), parsed like Starlette's
    ``request.cookies`` (the last duplicate wins there too). A user resolver's errors propagate.
    """
    address = client_address(scope, sources.trusted_proxies, header=sources.forwarded_header)
    api_key: IdentityKey | None = None
    session: IdentityKey | None = None
    if sources._reads_headers:
        api_key, session = _header_keys(scope.get("headers", ()), sources._api_key_name, sources._cookie_name)
    keys: list[IdentityKey] = []
    for source in sources.order:
        if source == "api_key":
            if api_key is not None:
                keys.append(api_key)
        elif source == "network":
            if address is not None:
                keys.extend(sources._network_keys(address))
        elif source == "user":
            user = _starlette_user(scope) if sources.user is None else sources.user(scope)
            if user:
                keys.append(IdentityKey("user", user))
        elif session is not None:  # "session": validated, so nothing else is left
            keys.append(session)
    return Requester(tuple(keys), keys[0] if keys else None, address)


def _header_keys(
    headers: Iterable[tuple[bytes, bytes]], api_name: bytes | None, cookie_name: str | None
) -> tuple[IdentityKey | None, IdentityKey | None]:
    """One pass over the headers for the API key and the session cookie."""
    api_value = b""
    api_lines = 0
    cookie_lines: list[bytes] = []
    for name, value in headers:
        if name == api_name:
            api_value = value
            api_lines += 1
        elif name == b"cookie" and cookie_name is not None:
            cookie_lines.append(value)
    session: IdentityKey | None = None
    if cookie_lines and cookie_name is not None:
        cookie = cookie_parser(b"; ".join(cookie_lines).decode("latin-1")).get(cookie_name)
        if cookie and len(cookie) <= MAX_CREDENTIAL_BYTES and cookie.isascii() and cookie.isprintable():
            session = IdentityKey("session", cookie)
    # The length bound here only keeps huge values out of the cache; the limit is checked after stripping.
    usable = api_lines == 1 and len(api_value) <= 2 * MAX_CREDENTIAL_BYTES
    return (_api_key(api_value) if usable else None), session


@functools.lru_cache(maxsize=4096)
def _api_key(value: bytes) -> IdentityKey | None:
    """A header value usable as a key: 1..256 visible ASCII bytes (inner spaces allowed).

    Cached (clients repeat their key on every request); values over twice the limit are never
    looked up, so the cache is bounded in bytes as well as entries.
    """
    value = value.strip(b" \t")
    if not value or len(value) > MAX_CREDENTIAL_BYTES or value.translate(None, _VISIBLE_ASCII):
        return None
    return IdentityKey("api_key", value.decode("ascii"))


def _starlette_user(scope: Scope) -> str | None:
    """``scope["user"].identity`` when authenticated; a user class without one counts as absent."""
    user: Any = scope.get("user")
    if user is None:
        return None
    try:
        if not user.is_authenticated:
            return None
        identity = user.identity
    except (AttributeError, NotImplementedError):  # Starlette's BaseUser raises NotImplementedError
        return None
    return str(identity) if identity not in (None, "") else None
