"""The client's address, as far as it can be trusted, and the network buckets it falls in.

Quotas key anonymous clients by address, so the address must be one the client cannot choose.
The TCP peer (``scope["client"]``) is the only fact; a forwarding header is believed only when
that peer is a configured proxy, and then only up to the first hop no trusted proxy vouches for.
Modelled on uvicorn's ``ProxyHeadersMiddleware``, but read-only (the scope is not rewritten),
with RFC 7239 ``Forwarded`` support and a fail-safe answer for hops that name no address.

>>> scope = {"client": ("10.0.0.2", 5123), "headers": [(b"x-forwarded-for", b"203.0.113.9, 10.0.0.7")]}
>>> client_address(scope, TrustedProxies(["10.0.0.0/8"]))
IPv4Address('203.0.113.9')
>>> network_keys(client_address(scope, TrustedProxies(())), ipv4_prefixes=(32, 24))
('ip4:10.0.0.2/32', 'ip4:10.0.0.0/24')
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from socket import AF_INET, inet_pton
from typing import Final, Literal

from starlette.types import Scope

__all__ = ["IPAddress", "ProxyHeader", "TrustedProxies", "check_prefixes", "client_address", "network_keys"]

IPAddress = IPv4Address | IPv6Address
ProxyHeader = Literal["x-forwarded-for", "forwarded"]

_HEADER_NAMES: Final[dict[str, bytes]] = {"x-forwarded-for": b"x-forwarded-for", "forwarded": b"forwarded"}
# Longer than any address with brackets and a port ("[ffff:…:255.255.255.255]:65535" is 53):
# anything longer is not an address, and is neither parsed nor allowed into a cache.
_MAX_NODE = 64
_OBFUSCATED_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class TrustedProxies:
    """The proxies whose forwarding headers are believed: addresses and networks, v4 and v6.

    ``TrustedProxies(())`` trusts nobody (the default, and free: the header is never read).
    ``TrustedProxies(["*"])`` trusts every hop; the client then chooses its own address (the
    leftmost hop), so use it only behind a proxy that *replaces* the header rather than appends.

    Membership costs one set lookup per distinct prefix length configured, whatever the number
    of networks: each network is stored as its address shifted right by its host bits.
    """

    __slots__ = ("_all", "_none", "_v4", "_v6", "networks")

    def __init__(self, networks: Iterable[str]) -> None:
        if isinstance(networks, str | bytes):
            raise ValueError(f"trusted proxies must be a list of addresses or networks, not one string: {networks!r}")
        parsed: set[IPv4Network | IPv6Network] = set()
        trust_all = False
        for entry in networks:
            if not isinstance(entry, str):
                raise ValueError(f"trusted proxy must be a string, got {type(entry).__name__} {entry!r}")
            text = entry.strip()
            if text == "*":
                trust_all = True
                continue
            try:
                network = ip_network(text)  # strict: "10.0.0.1/8" is refused, not silently widened
            except ValueError as exc:
                raise ValueError(
                    f"trusted proxy {entry!r} is not an IP address or network ({exc}); "
                    'use forms like "10.0.0.0/8", "127.0.0.1", "::1", "2001:db8::/32" or "*"'
                ) from None
            mapped = network.network_address.ipv4_mapped if isinstance(network, IPv6Network) else None
            if mapped is not None and network.prefixlen >= 96:
                # Addresses are normalised to IPv4 before the test, so the rule must be too.
                network = IPv4Network((mapped, network.prefixlen - 96))
            parsed.add(network)
        self._all = trust_all
        self._none = not trust_all and not parsed
        self._v4 = _prefix_table(n for n in parsed if isinstance(n, IPv4Network))
        self._v6 = _prefix_table(n for n in parsed if isinstance(n, IPv6Network))
        #: The normalised rules, sorted, for display and comparison.
        self.networks: tuple[str, ...] = (("*",) if trust_all else ()) + tuple(
            str(n) for n in sorted(parsed, key=lambda n: (n.version, n.network_address, n.prefixlen))
        )

    @property
    def trusts_all(self) -> bool:
        """True when ``"*"`` was given: every hop is believed."""
        return self._all

    @property
    def trusts_none(self) -> bool:
        """True when no proxy is trusted: forwarding headers are never read."""
        return self._none

    def __contains__(self, address: object) -> bool:
        if self._all:
            return True
        if isinstance(address, IPv4Address):
            table = self._v4
        elif isinstance(address, IPv6Address):
            table = self._v6
        else:
            return False
        number = int(address)
        for shift, keys in table:  # noqa: SIM110  # any() over a generator costs three times more here
            if number >> shift in keys:
                return True
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TrustedProxies) and other.networks == self.networks

    def __hash__(self) -> int:
        return hash(self.networks)

    def __repr__(self) -> str:
        return f"TrustedProxies({list(self.networks)!r})"


def _prefix_table(networks: Iterable[IPv4Network | IPv6Network]) -> tuple[tuple[int, frozenset[int]], ...]:
    by_shift: dict[int, set[int]] = {}
    for network in networks:
        shift = network.max_prefixlen - network.prefixlen
        by_shift.setdefault(shift, set()).add(int(network.network_address) >> shift)
    # Most specific first: single hosts (shift 0) are the common configuration.
    return tuple((shift, frozenset(keys)) for shift, keys in sorted(by_shift.items()))


def client_address(
    scope: Scope, trusted: TrustedProxies, *, header: ProxyHeader | None = "x-forwarded-for"
) -> IPAddress | None:
    """The address to account a request to: the peer, or the first hop no trusted proxy vouches for.

    The forwarding header is read only when the TCP peer is trusted, then walked from the right
    (each proxy appends the address it received the request from), skipping trusted hops. When
    every hop is trusted the leftmost is returned. A hop that names no address (``unknown``,
    an obfuscated ``_id``, garbage, an empty entry) stops the walk *at the proxy that wrote it*:
    the last trusted address is returned, so a client cannot leave its bucket by sending junk.
    Several header lines are read as one list, in order. IPv4-mapped IPv6 becomes IPv4.
    ``None`` when there is no usable peer (a Unix socket, a test client's host name).
    """
    if header is not None and header not in _HEADER_NAMES:
        raise ValueError(f"unknown forwarding header {header!r}; expected 'x-forwarded-for', 'forwarded' or None")
    client = scope.get("client")
    if not client:
        return None
    host = client[0]
    if not isinstance(host, str) or len(host) > _MAX_NODE:
        return None
    peer = _parse_ip(host)
    if peer is None or header is None or trusted._none or peer not in trusted:
        return peer
    return _walk(scope, trusted, peer, header)


def _walk(scope: Scope, trusted: TrustedProxies, peer: IPAddress, header: ProxyHeader) -> IPAddress:
    """Walk the header's hops from the right, starting from a trusted peer."""
    name = _HEADER_NAMES[header]
    lines = [value for key, value in scope.get("headers", ()) if key == name]
    if not lines:
        return peer
    # Split on commas first, always: a malformed entry (say an unclosed quote a client sent)
    # stays inside its own entry and cannot swallow the entries trusted proxies appended.
    hops = b",".join(lines).decode("latin-1").split(",")
    forwarded = header == "forwarded"
    last = peer
    for hop in reversed(hops):
        node = _forwarded_for(hop) if forwarded else hop.strip()
        address = _parse_node(node) if node is not None and len(node) <= _MAX_NODE else None
        if address is None:
            return last
        if address not in trusted:
            return address
        last = address
    return last


def _forwarded_for(element: str) -> str | None:
    """The ``for=`` node of one RFC 7239 element, unquoted; None when absent, repeated or malformed.

    Quoted strings containing ``,`` or ``;`` are not supported: no node name contains them, and
    refusing them keeps the parse local to one element (see :func:`client_address`).
    """
    found: str | None = None
    for pair in element.split(";"):
        name, equals, value = pair.partition("=")
        if name.strip().lower() != "for":
            continue
        if not equals or found is not None:
            return None  # "for" without a value, or twice in one element (RFC 7239 §4)
        value = value.strip()
        if value.startswith('"'):
            if len(value) < 2 or not value.endswith('"') or "\\" in value or '"' in value[1:-1]:
                return None
            value = value[1:-1]
        found = value
    return found


@functools.lru_cache(maxsize=8192)
def _parse_ip(text: str) -> IPAddress | None:
    """A bare address, normalised (mapped IPv6 → IPv4, zone dropped); cached: peers repeat.

    IPv4 goes through ``inet_pton``, four times faster than ``ipaddress`` on a cache miss (a
    botnet's many addresses all miss) and as strict: four decimal octets, no leading zeros.
    A property test holds it to ``ipaddress``'s answers.
    """
    if ":" not in text:
        try:
            return IPv4Address(inet_pton(AF_INET, text))
        except (OSError, ValueError):  # ValueError: an embedded NUL, or text not encodable
            return None
    try:
        address = IPv6Address(text)
    except ValueError:
        return None
    return _normalise(address)


def _normalise(address: IPAddress) -> IPAddress:
    if isinstance(address, IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return mapped
        if address.scope_id is not None:
            # A zone names an interface, not a host: it must not split one client's bucket.
            return IPv6Address(int(address))
    return address


@functools.lru_cache(maxsize=4096)
def _parse_node(node: str) -> IPAddress | None:
    """An address from a forwarding hop: ``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``[::1]``, ``::1``.

    Anything else (``unknown``, ``_obfuscated``, a host name, a port without its address) is None.
    """
    if node.startswith("["):
        end = node.find("]")
        if end < 0 or not _is_port(node[end + 1 :], optional=True):
            return None
        host = node[1:end]
        # Brackets hold IPv6 literals only: "[1.2.3.4]" is malformed ("[::ffff:1.2.3.4]" is fine).
        return _parse_ip(host) if ":" in host else None
    if node.count(":") == 1:
        host, _, port = node.partition(":")
        return _parse_ip(host) if _is_port(":" + port, optional=False) else None
    return _parse_ip(node)


def _is_port(text: str, *, optional: bool) -> bool:
    """``:80`` or an RFC 7239 obfuscated port ``:_x``; the empty string when ``optional``."""
    if not text:
        return optional
    if text[0] != ":" or len(text) < 2:
        return False
    port = text[1:]
    if port[0] == "_":
        return _OBFUSCATED_CHARS.issuperset(port)
    return len(port) <= 5 and port.isascii() and port.isdigit()


def check_prefixes(prefixes: Iterable[int], version: Literal[4, 6]) -> tuple[int, ...]:
    """Validate network prefix lengths and return them most specific first.

    Raises ValueError for an empty list, a non-integer, a duplicate, or a length outside
    ``1..32`` (IPv4) / ``1..128`` (IPv6): ``/0`` would put every client in one bucket.
    """
    bits = 32 if version == 4 else 128
    if isinstance(prefixes, str | bytes):
        raise ValueError(f"IPv{version} prefixes must be a list of integers, got {prefixes!r}")
    values = tuple(prefixes)
    if not values:
        raise ValueError(f"IPv{version} prefixes: give at least one prefix length (e.g. {bits})")
    for prefix in values:
        if not isinstance(prefix, int) or isinstance(prefix, bool) or not 0 < prefix <= bits:
            raise ValueError(f"IPv{version} prefix {prefix!r} must be an integer in 1..{bits}")
    if len(set(values)) != len(values):
        raise ValueError(f"IPv{version} prefixes {list(values)} repeat a length")
    return tuple(sorted(values, reverse=True))


# Validation is a cache miss's largest cost after formatting; configurations are few.
_checked_prefixes = functools.lru_cache(maxsize=64)(check_prefixes)


def network_keys(
    address: IPAddress, *, ipv4_prefixes: tuple[int, ...] = (32,), ipv6_prefixes: tuple[int, ...] = (64,)
) -> tuple[str, ...]:
    """Bucket names for the networks ``address`` belongs to, most specific first.

    One per prefix of the address's family: ``"ip4:203.0.113.0/24"``, ``"ip6:2001:db8:1:2::/64"``.
    Hierarchical prefixes (IPv6 ``(64, 56, 48)``) let a quota follow a client that rotates
    addresses inside the block it was delegated (a /64 is one subscriber; a /48 one site).
    """
    return _network_keys(address, ipv4_prefixes, ipv6_prefixes)


@functools.lru_cache(maxsize=8192)
def _network_keys(
    address: IPAddress, ipv4_prefixes: tuple[int, ...], ipv6_prefixes: tuple[int, ...]
) -> tuple[str, ...]:
    # lru_cache does not store exceptions, so invalid prefixes raise on every call.
    if isinstance(address, IPv4Address):
        number = int(address)
        keys: list[str] = []
        for prefix in _checked_prefixes(ipv4_prefixes, 4):
            masked = number >> (32 - prefix) << (32 - prefix)
            keys.append(f"ip4:{masked >> 24}.{masked >> 16 & 255}.{masked >> 8 & 255}.{masked & 255}/{prefix}")
        return tuple(keys)
    if isinstance(address, IPv6Address):
        address = _normalise(address)
        if isinstance(address, IPv4Address):  # a mapped address handed in directly
            return _network_keys(address, ipv4_prefixes, ipv6_prefixes)
        number = int(address)
        return tuple(
            f"ip6:{IPv6Address(number >> (128 - prefix) << (128 - prefix))}/{prefix}"
            for prefix in _checked_prefixes(ipv6_prefixes, 6)
        )
    raise TypeError(f"expected an IPv4Address or IPv6Address, got {type(address).__name__}")
