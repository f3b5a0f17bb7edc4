"""The client address behind trusted proxies, and the network buckets it falls in.

One table of (trusted proxies, peer, header lines, header kind) → address, in the manner of
uvicorn's proxy-header tests, then hypothesis properties for what no table can enumerate: a
spoofed header from an untrusted peer never matters, the rightmost untrusted hop always wins,
and no header bytes make the parser raise.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from shield.clientip import (
    IPAddress,
    ProxyHeader,
    TrustedProxies,
    _parse_ip,
    check_prefixes,
    client_address,
    network_keys,
)

NONE: list[str] = []
LOCAL = ["127.0.0.1"]
PRIVATE = ["10.0.0.0/8", "192.168.0.0/16", "::1", "fd00::/8"]
ALL = ["*"]
XFF = "x-forwarded-for"
FWD = "forwarded"


def make_scope(peer: Any, lines: list[bytes], kind: str = XFF, extra: list[tuple[bytes, bytes]] | None = None) -> Any:
    headers = [(b"host", b"api.example"), *((kind.encode(), line) for line in lines), *(extra or [])]
    scope: dict[str, Any] = {"type": "http", "headers": headers}
    if peer is not ...:
        scope["client"] = None if peer is None else (peer, 50000)
    return scope


# (trusted proxies, TCP peer, header lines, header read, expected address)
CASES: list[Any] = [
    # -- untrusted peers: the header is never read
    pytest.param(NONE, "203.0.113.5", [b"1.1.1.1"], XFF, "203.0.113.5", id="no-proxies-spoof-ignored"),
    pytest.param(PRIVATE, "203.0.113.5", [b"10.0.0.1"], XFF, "203.0.113.5", id="untrusted-peer-spoof-ignored"),
    pytest.param(LOCAL, "127.0.0.2", [b"198.51.100.7"], XFF, "127.0.0.2", id="untrusted-neighbour"),
    pytest.param(PRIVATE, "203.0.113.5", [b"for=10.0.0.1"], FWD, "203.0.113.5", id="untrusted-peer-forwarded"),
    # -- a trusted peer: walk from the right
    pytest.param(LOCAL, "127.0.0.1", [b"198.51.100.7"], XFF, "198.51.100.7", id="one-hop"),
    pytest.param(LOCAL, "127.0.0.1", [b"6.6.6.6, 198.51.100.7"], XFF, "198.51.100.7", id="spoofed-leftmost"),
    pytest.param(LOCAL, "127.0.0.1", [b"6.6.6.6,198.51.100.7"], XFF, "198.51.100.7", id="no-space"),
    pytest.param(LOCAL, "127.0.0.1", [b"  198.51.100.7  "], XFF, "198.51.100.7", id="whitespace"),
    pytest.param(LOCAL, "127.0.0.1", [], XFF, "127.0.0.1", id="trusted-peer-no-header"),
    pytest.param(LOCAL, "127.0.0.1", [b"198.51.100.7"], None, "127.0.0.1", id="header-disabled"),
    pytest.param(
        PRIVATE, "10.0.0.1", [b"6.6.6.6, 198.51.100.7, 10.1.1.1, 192.168.0.9"], XFF, "198.51.100.7", id="chain"
    ),
    pytest.param(PRIVATE, "::1", [b"2001:db8::9, fd00::2, 10.9.9.9"], XFF, "2001:db8::9", id="chain-mixed-families"),
    pytest.param(PRIVATE, "10.0.0.1", [b"10.2.2.2, 192.168.1.1"], XFF, "10.2.2.2", id="all-trusted-leftmost"),
    pytest.param(PRIVATE, "10.0.0.1", [b"10.2.2.2"], XFF, "10.2.2.2", id="all-trusted-one"),
    # -- "*" trusts every hop: the leftmost wins (the client chooses it: replace-mode proxies only)
    pytest.param(ALL, "203.0.113.5", [b"6.6.6.6, 198.51.100.7"], XFF, "6.6.6.6", id="star-leftmost"),
    pytest.param(ALL, "203.0.113.5", [], XFF, "203.0.113.5", id="star-no-header"),
    pytest.param(ALL, "203.0.113.5", [b"6.6.6.6, unknown, 198.51.100.7"], XFF, "198.51.100.7", id="star-unknown"),
    pytest.param(["*", "10.0.0.0/8"], "203.0.113.5", [b"6.6.6.6"], XFF, "6.6.6.6", id="star-with-others"),
    # -- ports and brackets in X-Forwarded-For
    pytest.param(LOCAL, "127.0.0.1", [b"198.51.100.7:4711"], XFF, "198.51.100.7", id="xff-v4-port"),
    pytest.param(LOCAL, "127.0.0.1", [b"[2001:db8::1]:4711"], XFF, "2001:db8::1", id="xff-v6-bracket-port"),
    pytest.param(LOCAL, "127.0.0.1", [b"[2001:db8::1]"], XFF, "2001:db8::1", id="xff-v6-bracket"),
    pytest.param(LOCAL, "127.0.0.1", [b"2001:db8::1"], XFF, "2001:db8::1", id="xff-v6-bare"),
    pytest.param(LOCAL, "127.0.0.1", [b"2001:DB8:0:0::1"], XFF, "2001:db8::1", id="xff-v6-uncompressed"),
    pytest.param(LOCAL, "127.0.0.1", [b"fe80::1%eth0"], XFF, "fe80::1", id="xff-zone-dropped"),
    # -- unusable hops stop the walk at the proxy that wrote them (fail safe)
    pytest.param(LOCAL, "127.0.0.1", [b"unknown"], XFF, "127.0.0.1", id="xff-unknown"),
    pytest.param(LOCAL, "127.0.0.1", [b"not-an-ip"], XFF, "127.0.0.1", id="xff-garbage"),
    pytest.param(LOCAL, "127.0.0.1", [b"example.com"], XFF, "127.0.0.1", id="xff-hostname"),
    pytest.param(LOCAL, "127.0.0.1", [b""], XFF, "127.0.0.1", id="xff-empty"),
    pytest.param(LOCAL, "127.0.0.1", [b"198.51.100.7,"], XFF, "127.0.0.1", id="xff-trailing-comma"),
    pytest.param(LOCAL, "127.0.0.1", [b"6.6.6.6,,198.51.100.7"], XFF, "198.51.100.7", id="xff-empty-left-of-client"),
    pytest.param(PRIVATE, "10.0.0.1", [b"6.6.6.6, unknown, 10.0.0.7"], XFF, "10.0.0.7", id="xff-unknown-mid-chain"),
    pytest.param(LOCAL, "127.0.0.1", [b"garbage, 198.51.100.7"], XFF, "198.51.100.7", id="xff-garbage-left"),
    pytest.param(LOCAL, "127.0.0.1", [b"01.2.3.4"], XFF, "127.0.0.1", id="xff-leading-zero"),
    pytest.param(LOCAL, "127.0.0.1", [b"\xb9.2.3.4"], XFF, "127.0.0.1", id="xff-latin1-digit"),
    pytest.param(LOCAL, "127.0.0.1", [b"198.51.100.7:99999999"], XFF, "127.0.0.1", id="xff-long-port"),
    pytest.param(LOCAL, "127.0.0.1", [b"198.51.100.7:"], XFF, "127.0.0.1", id="xff-empty-port"),
    pytest.param(LOCAL, "127.0.0.1", [b"[198.51.100.7]"], XFF, "127.0.0.1", id="xff-v4-in-brackets"),
    pytest.param(LOCAL, "127.0.0.1", [b"[2001:db8::1"], XFF, "127.0.0.1", id="xff-unclosed-bracket"),
    pytest.param(LOCAL, "127.0.0.1", [b"[2001:db8::1]x"], XFF, "127.0.0.1", id="xff-junk-after-bracket"),
    pytest.param(LOCAL, "127.0.0.1", [b'"198.51.100.7"'], XFF, "127.0.0.1", id="xff-quoted"),
    pytest.param(LOCAL, "127.0.0.1", [b"1" * 200], XFF, "127.0.0.1", id="xff-overlong-hop"),
    # -- several header lines are one list, in order
    pytest.param(LOCAL, "127.0.0.1", [b"203.0.113.9", b"198.51.100.7"], XFF, "198.51.100.7", id="lines-in-order"),
    pytest.param(LOCAL, "127.0.0.1", [b"198.51.100.7", b"203.0.113.9"], XFF, "203.0.113.9", id="lines-reversed"),
    pytest.param(PRIVATE, "10.0.0.1", [b"198.51.100.7, 10.0.0.3", b"10.0.0.2"], XFF, "198.51.100.7", id="lines-chain"),
    pytest.param(LOCAL, "127.0.0.1", [b"6.6.6.6", b""], XFF, "127.0.0.1", id="lines-empty-last"),
    # -- IPv4-mapped IPv6 is IPv4, in the peer, the hops and the configuration
    pytest.param(LOCAL, "::ffff:127.0.0.1", [b"198.51.100.7"], XFF, "198.51.100.7", id="mapped-peer-trusted"),
    pytest.param(NONE, "::ffff:203.0.113.5", [], XFF, "203.0.113.5", id="mapped-peer"),
    pytest.param(LOCAL, "127.0.0.1", [b"::ffff:198.51.100.7"], XFF, "198.51.100.7", id="mapped-hop"),
    pytest.param(LOCAL, "127.0.0.1", [b"[::ffff:198.51.100.7]:80"], XFF, "198.51.100.7", id="mapped-hop-bracket"),
    pytest.param(PRIVATE, "10.0.0.1", [b"6.6.6.6, ::ffff:10.0.0.9"], XFF, "6.6.6.6", id="mapped-hop-trusted"),
    pytest.param(["::ffff:127.0.0.1"], "127.0.0.1", [b"198.51.100.7"], XFF, "198.51.100.7", id="mapped-config"),
    pytest.param(["::ffff:10.0.0.0/104"], "10.1.2.3", [b"198.51.100.7"], XFF, "198.51.100.7", id="mapped-config-net"),
    # -- RFC 7239 Forwarded
    pytest.param(LOCAL, "127.0.0.1", [b"for=198.51.100.7"], FWD, "198.51.100.7", id="fwd-plain"),
    pytest.param(LOCAL, "127.0.0.1", [b'for="198.51.100.7:4711"'], FWD, "198.51.100.7", id="fwd-quoted-port"),
    pytest.param(LOCAL, "127.0.0.1", [b'for="[2001:db8:cafe::17]:4711"'], FWD, "2001:db8:cafe::17", id="fwd-v6"),
    pytest.param(LOCAL, "127.0.0.1", [b'For="[2001:db8:cafe::17]"'], FWD, "2001:db8:cafe::17", id="fwd-name-case"),
    pytest.param(LOCAL, "127.0.0.1", [b"for=[2001:db8::1]:80"], FWD, "2001:db8::1", id="fwd-v6-unquoted"),
    pytest.param(LOCAL, "127.0.0.1", [b'for="198.51.100.7:_abc"'], FWD, "198.51.100.7", id="fwd-obfuscated-port"),
    pytest.param(
        LOCAL,
        "127.0.0.1",
        [b"for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com"],
        FWD,
        "198.51.100.17",
        id="fwd-rfc-example",
    ),
    pytest.param(LOCAL, "127.0.0.1", [b"proto=https; for=198.51.100.7 ;by=_p"], FWD, "198.51.100.7", id="fwd-params"),
    pytest.param(
        PRIVATE, "10.0.0.1", [b"for=6.6.6.6, for=198.51.100.7, for=10.0.0.5"], FWD, "198.51.100.7", id="fwd-chain"
    ),
    pytest.param(LOCAL, "127.0.0.1", [b"for=unknown"], FWD, "127.0.0.1", id="fwd-unknown"),
    pytest.param(LOCAL, "127.0.0.1", [b"for=_hidden, for=_SEVKISEK"], FWD, "127.0.0.1", id="fwd-obfuscated"),
    pytest.param(PRIVATE, "10.0.0.1", [b"for=6.6.6.6, for=_x, for=10.0.0.5"], FWD, "10.0.0.5", id="fwd-obf-mid-chain"),
    pytest.param(LOCAL, "127.0.0.1", [b"by=10.0.0.1;proto=https"], FWD, "127.0.0.1", id="fwd-no-for"),
    pytest.param(LOCAL, "127.0.0.1", [b"for=1.2.3.4;for=5.6.7.8"], FWD, "127.0.0.1", id="fwd-for-twice"),
    pytest.param(LOCAL, "127.0.0.1", [b"for"], FWD, "127.0.0.1", id="fwd-for-no-value"),
    pytest.param(LOCAL, "127.0.0.1", [b"for="], FWD, "127.0.0.1", id="fwd-for-empty"),
    pytest.param(LOCAL, "127.0.0.1", [b'for="198.51.100.7'], FWD, "127.0.0.1", id="fwd-unclosed-quote"),
    pytest.param(LOCAL, "127.0.0.1", [b'for="'], FWD, "127.0.0.1", id="fwd-lone-quote"),
    pytest.param(LOCAL, "127.0.0.1", [b'for="\\"1.2.3.4\\""'], FWD, "127.0.0.1", id="fwd-escaped-quote"),
    pytest.param(LOCAL, "127.0.0.1", [b'for="1.2"3.4"'], FWD, "127.0.0.1", id="fwd-inner-quote"),
    pytest.param(LOCAL, "127.0.0.1", [b'for="[1.2.3.4]"'], FWD, "127.0.0.1", id="fwd-v4-in-brackets"),
    pytest.param(
        LOCAL, "127.0.0.1", [b'for="6.6.6.6, for=198.51.100.7'], FWD, "198.51.100.7", id="fwd-quote-cannot-swallow"
    ),
    pytest.param(LOCAL, "127.0.0.1", [b'for="6.6.6.6', b"for=198.51.100.7"], FWD, "198.51.100.7", id="fwd-lines-quote"),
    pytest.param(LOCAL, "127.0.0.1", [b"for=203.0.113.9", b"for=198.51.100.7"], FWD, "198.51.100.7", id="fwd-lines"),
    # -- the header not configured is ignored
    pytest.param(LOCAL, "127.0.0.1", [b"for=198.51.100.7"], XFF, "127.0.0.1", id="forwarded-sent-xff-read"),
    pytest.param(LOCAL, "127.0.0.1", [b"198.51.100.7"], FWD, "127.0.0.1", id="xff-sent-forwarded-read"),
    # -- no usable peer
    pytest.param(LOCAL, None, [b"198.51.100.7"], XFF, None, id="client-none-unix-socket"),
    pytest.param(LOCAL, ..., [b"198.51.100.7"], XFF, None, id="client-missing"),
    pytest.param(ALL, "testclient", [b"198.51.100.7"], XFF, None, id="client-hostname"),
    pytest.param(ALL, "", [b"198.51.100.7"], XFF, None, id="client-empty"),
    pytest.param(ALL, "1" * 300, [], XFF, None, id="client-overlong"),
    pytest.param(NONE, "fe80::1%eth0", [], XFF, "fe80::1", id="client-zone-dropped"),
]


@pytest.mark.parametrize(("trusted", "peer", "lines", "kind", "expected"), CASES)
def test_client_address(
    trusted: list[str], peer: Any, lines: list[bytes], kind: ProxyHeader | None, expected: str | None
) -> None:
    header_name = kind or XFF
    scope = make_scope(peer, lines, header_name)
    result = client_address(scope, TrustedProxies(trusted), header=kind)
    assert result == (None if expected is None else ip_address(expected))
    if result is not None:
        assert type(result) is type(ip_address(expected or ""))  # mapped addresses come back as IPv4


# (address, IPv4 prefixes, IPv6 prefixes, expected keys)
NETWORK_CASES: list[Any] = [
    pytest.param("203.0.113.77", (32,), (64,), ("ip4:203.0.113.77/32",), id="v4-32"),
    pytest.param("203.0.113.77", (32, 24), (64,), ("ip4:203.0.113.77/32", "ip4:203.0.113.0/24"), id="v4-32-24"),
    pytest.param("203.0.113.77", (24, 32), (64,), ("ip4:203.0.113.77/32", "ip4:203.0.113.0/24"), id="v4-sorted"),
    pytest.param(
        "203.0.113.77", (16, 8, 1), (64,), ("ip4:203.0.0.0/16", "ip4:203.0.0.0/8", "ip4:128.0.0.0/1"), id="v4-short"
    ),
    pytest.param("0.0.0.0", (32,), (64,), ("ip4:0.0.0.0/32",), id="v4-zero"),
    pytest.param("255.255.255.255", (31,), (64,), ("ip4:255.255.255.254/31",), id="v4-top"),
    pytest.param("2001:db8:1:2:aaaa:bbbb:cccc:dddd", (32,), (64,), ("ip6:2001:db8:1:2::/64",), id="v6-64"),
    pytest.param(
        "2001:db8:1:2ff:aaaa::1",
        (32,),
        (48, 64, 56),
        ("ip6:2001:db8:1:2ff::/64", "ip6:2001:db8:1:200::/56", "ip6:2001:db8:1::/48"),
        id="v6-64-56-48",
    ),
    pytest.param("2001:db8::1", (32,), (128,), ("ip6:2001:db8::1/128",), id="v6-128"),
    pytest.param("::1", (32,), (64,), ("ip6:::/64",), id="v6-loopback"),
    pytest.param("::ffff:198.51.100.7", (32, 24), (64,), ("ip4:198.51.100.7/32", "ip4:198.51.100.0/24"), id="mapped"),
]


@pytest.mark.parametrize(("address", "v4", "v6", "expected"), NETWORK_CASES)
def test_network_keys(address: str, v4: tuple[int, ...], v6: tuple[int, ...], expected: tuple[str, ...]) -> None:
    assert network_keys(ip_address(address), ipv4_prefixes=v4, ipv6_prefixes=v6) == expected


def test_network_keys_is_cached_but_still_validates() -> None:
    address = IPv4Address("198.51.100.7")
    assert network_keys(address) is network_keys(address)
    for _ in range(2):  # an error is never cached as an answer
        with pytest.raises(ValueError, match=r"1\.\.32"):
            network_keys(address, ipv4_prefixes=(33,))


@pytest.mark.parametrize(
    ("prefixes", "version", "message"),
    [
        pytest.param((), 4, "at least one", id="empty"),
        pytest.param((0,), 4, r"1\.\.32", id="v4-zero"),
        pytest.param((33,), 4, r"1\.\.32", id="v4-too-long"),
        pytest.param((129,), 6, r"1\.\.128", id="v6-too-long"),
        pytest.param((-1,), 6, r"1\.\.128", id="negative"),
        pytest.param((True,), 4, "integer", id="bool"),
        pytest.param((24.0,), 4, "integer", id="float"),
        pytest.param(("24",), 4, "integer", id="string-item"),
        pytest.param("24", 4, "list of integers", id="string"),
        pytest.param((24, 24), 4, "repeat", id="duplicate"),
    ],
)
def test_check_prefixes_refuses(prefixes: Any, version: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_prefixes(prefixes, version)


def test_check_prefixes_sorts_most_specific_first() -> None:
    assert check_prefixes([48, 64, 56], 6) == (64, 56, 48)
    assert check_prefixes((32,), 4) == (32,)


def test_network_keys_refuses_a_non_address() -> None:
    with pytest.raises(TypeError, match="IPv4Address or IPv6Address"):
        network_keys("198.51.100.7")  # type: ignore[arg-type]  # the point of the test


# -- TrustedProxies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("networks", "message"),
    [
        pytest.param(["garbage"], "'garbage' is not an IP address or network", id="garbage"),
        pytest.param(["10.0.0.1/8"], "host bits set", id="host-bits"),
        pytest.param(["10.0.0.0/33"], "not an IP address or network", id="bad-prefix"),
        pytest.param([""], "not an IP address or network", id="empty"),
        pytest.param(["localhost"], "not an IP address or network", id="hostname"),
        pytest.param(["10.0.0.0/8, 127.0.0.1"], "not an IP address or network", id="comma-list-in-one"),
        pytest.param("127.0.0.1", "not one string", id="bare-string"),
        pytest.param([10], "must be a string", id="int"),
        pytest.param([None], "must be a string", id="none"),
    ],
)
def test_trusted_proxies_refuses(networks: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrustedProxies(networks)


def test_trusted_proxies_membership() -> None:
    trusted = TrustedProxies(["10.0.0.0/8", " 192.168.1.1 ", "::1", "2001:db8::/32", "172.16.0.0/12", "10.1.2.3"])
    inside = ["10.0.0.0", "10.255.255.255", "192.168.1.1", "::1", "2001:db8:ffff::1", "172.31.0.1"]
    outside = ["11.0.0.0", "9.255.255.255", "192.168.1.2", "::2", "2001:db9::", "172.32.0.0", "0.0.0.1"]
    assert all(ip_address(a) in trusted for a in inside)
    assert not any(ip_address(a) in trusted for a in outside)
    assert "10.0.0.1" not in trusted  # a string is not an address
    assert None not in trusted
    assert not trusted.trusts_all
    assert not trusted.trusts_none


def test_trusted_proxies_special_cases() -> None:
    nobody = TrustedProxies(())
    assert nobody.trusts_none
    assert ip_address("127.0.0.1") not in nobody
    everybody = TrustedProxies(["*"])
    assert everybody.trusts_all
    assert not everybody.trusts_none
    assert ip_address("203.0.113.1") in everybody
    assert ip_address("2001:db8::1") in everybody
    world = TrustedProxies(["0.0.0.0/0"])  # explicit, and IPv4 only
    assert ip_address("203.0.113.1") in world
    assert ip_address("2001:db8::1") not in world


def test_trusted_proxies_value_semantics() -> None:
    a = TrustedProxies(["10.0.0.0/8", "::1"])
    b = TrustedProxies(iter(["::1", "10.0.0.0/8", "10.0.0.0/8"]))
    assert a == b
    assert hash(a) == hash(b)
    assert a != TrustedProxies(["10.0.0.0/8"])
    assert a != "10.0.0.0/8"
    assert a.networks == ("10.0.0.0/8", "::1/128")
    assert repr(a) == "TrustedProxies(['10.0.0.0/8', '::1/128'])"
    assert TrustedProxies(["::ffff:10.0.0.0/104"]).networks == ("10.0.0.0/8",)


def test_unknown_header_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown forwarding header"):
        client_address(make_scope("127.0.0.1", []), TrustedProxies(LOCAL), header="x-real-ip")  # type: ignore[arg-type]


# -- properties ------------------------------------------------------------------------------

TRUSTED = TrustedProxies(PRIVATE)


def normalised(address: IPAddress) -> IPAddress:
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


addresses = st.ip_addresses().map(normalised)
untrusted = addresses.filter(lambda a: a not in TRUSTED)
trusted_addresses = st.one_of(
    st.ip_addresses(network="10.0.0.0/8"),
    st.ip_addresses(network="192.168.0.0/16"),
    st.ip_addresses(network="fd00::/8"),
    st.just(IPv6Address("::1")),
)
latin1 = st.text(st.characters(max_codepoint=255), max_size=40)
header_lines = st.lists(st.binary(max_size=60), max_size=4)
header_kinds = st.sampled_from([XFF, FWD, None])


@st.composite
def xff_hop(draw: st.DrawFn, address: IPAddress) -> str:
    """One hop as some proxy may write it: bare, with a port, bracketed, padded."""
    port = draw(st.integers(0, 65535))
    if isinstance(address, IPv4Address):
        forms = [str(address), f"{address}:{port}", f"::ffff:{address}"]
    else:
        forms = [str(address), address.exploded, f"[{address}]", f"[{address}]:{port}"]
    return draw(st.sampled_from(forms)).center(len(str(address)) + draw(st.integers(0, 4)))


def forwarded_hop(hop: str) -> str:
    hop = hop.strip()
    return f'for="{hop}"' if ":" in hop or "[" in hop else f"for={hop}"


@given(untrusted, header_lines, header_lines, header_kinds)
def test_untrusted_peer_is_never_moved_by_headers(
    peer: IPAddress, xff: list[bytes], forwarded: list[bytes], kind: ProxyHeader | None
) -> None:
    headers = [(b"x-forwarded-for", v) for v in xff] + [(b"forwarded", v) for v in forwarded]
    scope = {"type": "http", "client": (str(peer), 1), "headers": headers}
    assert client_address(scope, TRUSTED, header=kind) == peer


@given(st.data(), untrusted, trusted_addresses, st.lists(latin1, max_size=4), st.sampled_from([XFF, FWD]))
def test_rightmost_untrusted_hop_wins(
    data: st.DataObject, client: IPAddress, peer: IPAddress, junk: list[str], kind: ProxyHeader
) -> None:
    proxies = data.draw(st.lists(trusted_addresses, max_size=4))
    hops = [data.draw(xff_hop(client))] + [data.draw(xff_hop(p)) for p in proxies]
    if kind == FWD:
        hops = [forwarded_hop(h) for h in hops]
    # Whatever the client put in front, in one line with the real hops or in lines of its own.
    value = ", ".join([*junk, *hops])
    split = data.draw(st.booleans())
    lines = [j.encode("latin-1") for j in junk] + [", ".join(hops).encode()] if split else [value.encode("latin-1")]
    scope = {"type": "http", "client": (str(peer), 1), "headers": [(kind.encode(), line) for line in lines]}
    assert client_address(scope, TRUSTED, header=kind) == client


@given(trusted_addresses, st.lists(trusted_addresses, min_size=1, max_size=4))
def test_all_trusted_gives_the_leftmost(peer: IPAddress, hops: list[IPAddress]) -> None:
    value = ", ".join(str(h) for h in hops).encode()
    scope = {"type": "http", "client": (str(peer), 1), "headers": [(b"x-forwarded-for", value)]}
    assert client_address(scope, TRUSTED) == hops[0]


@given(
    st.one_of(st.ip_addresses().map(str), latin1),
    header_lines,
    header_kinds,
    st.sampled_from([NONE, LOCAL, PRIVATE, ALL]),
)
def test_never_raises_on_arbitrary_headers(
    peer: str, lines: list[bytes], kind: ProxyHeader | None, networks: list[str]
) -> None:
    for name in (XFF, FWD):
        scope = make_scope(peer, lines, name)
        result = client_address(scope, TrustedProxies(networks), header=kind)
        assert result is None or isinstance(result, IPv4Address | IPv6Address)
        if isinstance(result, IPv6Address):
            assert result.ipv4_mapped is None  # always normalised
            assert result.scope_id is None


@given(addresses, st.lists(st.integers(1, 32), min_size=1, max_size=4, unique=True))
def test_network_keys_name_the_containing_networks(address: IPAddress, v4: list[int]) -> None:
    v6 = tuple(sorted({min(p * 4, 128) for p in v4}))
    keys = network_keys(address, ipv4_prefixes=tuple(v4), ipv6_prefixes=v6)
    expected_family = "ip4:" if isinstance(address, IPv4Address) else "ip6:"
    assert len(keys) == len(v4 if expected_family == "ip4:" else v6)
    lengths = []
    for key in keys:
        assert key.startswith(expected_family)
        network = ipaddress.ip_network(key[4:])  # strict: the key is a canonical network
        assert address in network
        lengths.append(network.prefixlen)
    assert lengths == sorted(lengths, reverse=True)


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_rotating_inside_a_slash_64_keeps_the_key(net: int, other_net: int, host: int, other_host: int) -> None:
    assume(net >> 32 != 0xFFFF)  # keep clear of ::ffff:0:0/96 (mapped IPv4) for the first address
    a, b = IPv6Address(net << 64 | host), IPv6Address(net << 64 | other_host)
    assert network_keys(a) == network_keys(b)
    if other_net != net:
        assert network_keys(IPv6Address(other_net << 64 | host)) != network_keys(a)


def reference_parse(text: str) -> IPAddress | None:
    """What ``ipaddress`` says, normalised the same way."""
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.scope_id is not None:
        address = IPv6Address(int(address))
    return normalised(address)


octets = st.one_of(
    st.integers(0, 300).map(str), st.from_regex(r"\A0[0-9]{1,3}\Z"), st.sampled_from(["", "x", "٣", "¹"])
)
address_like = st.one_of(
    st.ip_addresses().map(str),
    st.lists(octets, min_size=1, max_size=6).map(".".join),
    st.ip_addresses(v=6).map(lambda a: a.exploded.upper()),
    st.text(st.sampled_from("0123456789abcdef:.%[] \x00"), max_size=45),
    st.text(max_size=20),
)


@given(address_like)
def test_fast_parse_agrees_with_ipaddress(text: str) -> None:
    assert _parse_ip.__wrapped__(text) == reference_parse(text)
