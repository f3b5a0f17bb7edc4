"""Every key a request carries: sources, their order, the primary key, and what counts as absent."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser, SimpleUser, UnauthenticatedUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shield.clientip import TrustedProxies
from shield.requester import (
    MAX_CREDENTIAL_BYTES,
    SOURCES,
    IdentityKey,
    IdentitySources,
    Requester,
    resolve_requester,
)

API = IdentityKey("api_key", "k-live-123")
NET = IdentityKey("network", "ip4:203.0.113.7/32")


def make_scope(
    headers: list[tuple[bytes, bytes]] | None = None, client: Any = ("203.0.113.7", 4711), **extra: Any
) -> dict[str, Any]:
    return {"type": "http", "client": client, "headers": headers or [], **extra}


def pairs(requester: Requester) -> list[tuple[str, str]]:
    return [(key.source, key.value) for key in requester.keys]


# -- sources and order ------------------------------------------------------------------------


def test_default_order_api_key_then_network() -> None:
    requester = resolve_requester(make_scope([(b"x-api-key", b"k-live-123")]), IdentitySources())
    assert requester.keys == (API, NET)
    assert requester.primary == API
    assert requester.address == IPv4Address("203.0.113.7")


def test_every_source_present_in_order() -> None:
    scope = make_scope(
        [(b"cookie", b"theme=dark; sid=s3ss10n"), (b"x-api-key", b"k-live-123")], user=SimpleUser("alice")
    )
    sources = IdentitySources(session_cookie="sid", ipv4_prefixes=(24, 32))
    assert pairs(resolve_requester(scope, sources)) == [
        ("api_key", "k-live-123"),
        ("user", "alice"),
        ("session", "s3ss10n"),
        ("network", "ip4:203.0.113.7/32"),
        ("network", "ip4:203.0.113.0/24"),
    ]
    reordered = IdentitySources(order=("network", "session", "user", "api_key"), session_cookie="sid")
    requester = resolve_requester(scope, reordered)
    assert [key.source for key in requester.keys] == ["network", "session", "user", "api_key"]
    assert requester.primary == NET


def test_primary_is_the_first_present_source() -> None:
    sources = IdentitySources(session_cookie="sid")
    only_session = make_scope([(b"cookie", b"sid=abc")])
    assert resolve_requester(only_session, sources).primary == IdentityKey("session", "abc")
    only_network = make_scope()
    assert resolve_requester(only_network, sources).primary == NET


def test_network_primary_is_the_most_specific_bucket() -> None:
    scope = make_scope(client=("2001:db8:1:2::7", 1))
    requester = resolve_requester(scope, IdentitySources(ipv6_prefixes=(48, 64, 56)))
    assert pairs(requester) == [
        ("network", "ip6:2001:db8:1:2::/64"),
        ("network", "ip6:2001:db8:1::/56"),
        ("network", "ip6:2001:db8:1::/48"),
    ]
    assert requester.primary == IdentityKey("network", "ip6:2001:db8:1:2::/64")
    assert requester.address == IPv6Address("2001:db8:1:2::7")


def test_sources_left_out_of_the_order_are_not_read() -> None:
    scope = make_scope([(b"x-api-key", b"k"), (b"cookie", b"sid=abc")], user=SimpleUser("alice"))
    requester = resolve_requester(scope, IdentitySources(order=("network",), session_cookie="sid"))
    assert requester.keys == (NET,)
    only_key = resolve_requester(scope, IdentitySources(order=("api_key",)))
    assert pairs(only_key) == [("api_key", "k")]
    assert only_key.address == IPv4Address("203.0.113.7")  # the address is resolved regardless


def test_no_key_at_all() -> None:
    """A Unix socket and no credential: nothing to count against (the caller buckets it as anonymous)."""
    requester = resolve_requester(make_scope(client=None), IdentitySources())
    assert requester == Requester(keys=(), primary=None, address=None)
    keyed = resolve_requester(make_scope([(b"x-api-key", b"k")], client=None), IdentitySources())
    assert keyed == Requester(keys=(IdentityKey("api_key", "k"),), primary=IdentityKey("api_key", "k"), address=None)


def test_network_keys_use_the_address_behind_trusted_proxies() -> None:
    headers = [(b"x-forwarded-for", b"6.6.6.6, 198.51.100.9")]
    sources = IdentitySources(trusted_proxies=TrustedProxies(["10.0.0.0/8"]))
    behind = resolve_requester(make_scope(headers, client=("10.0.0.2", 1)), sources)
    assert behind.keys == (IdentityKey("network", "ip4:198.51.100.9/32"),)
    spoofed = resolve_requester(make_scope(headers), sources)  # from an untrusted peer
    assert spoofed.keys == (NET,)
    forwarded = IdentitySources(trusted_proxies=TrustedProxies(["10.0.0.0/8"]), forwarded_header="forwarded")
    fwd = make_scope([(b"forwarded", b'for="[2001:db8::5]:80"')], client=("10.0.0.2", 1))
    assert resolve_requester(fwd, forwarded).primary == IdentityKey("network", "ip6:2001:db8::/64")
    ignoring = IdentitySources(trusted_proxies=TrustedProxies(["10.0.0.0/8"]), forwarded_header=None)
    assert resolve_requester(make_scope(headers, client=("10.0.0.2", 1)), ignoring).address == IPv4Address("10.0.0.2")


def test_rotating_api_keys_from_one_slash_64_share_the_network_key() -> None:
    sources = IdentitySources(ipv6_prefixes=(64, 48))
    seen_api: set[IdentityKey] = set()
    seen_network: set[tuple[IdentityKey, ...]] = set()
    for index in range(20):
        scope = make_scope([(b"x-api-key", f"fresh-key-{index}".encode())], client=(f"2001:db8:aa:bb::{index:x}", 1))
        requester = resolve_requester(scope, sources)
        assert requester.primary is not None
        assert requester.primary.source == "api_key"
        seen_api.add(requester.primary)
        seen_network.add(tuple(key for key in requester.keys if key.source == "network"))
    assert len(seen_api) == 20
    assert seen_network == {
        (IdentityKey("network", "ip6:2001:db8:aa:bb::/64"), IdentityKey("network", "ip6:2001:db8:aa::/48"))
    }


# -- API key ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param([(b"x-api-key", b"k-live-123")], "k-live-123", id="plain"),
        pytest.param([(b"x-api-key", b"  k-live-123\t")], "k-live-123", id="padded"),
        pytest.param([(b"x-api-key", b"Bearer abc")], "Bearer abc", id="inner-space"),
        pytest.param([(b"x-api-key", b"a" * MAX_CREDENTIAL_BYTES)], "a" * MAX_CREDENTIAL_BYTES, id="longest"),
        pytest.param([(b"x-api-key", b"a" * (MAX_CREDENTIAL_BYTES + 1))], None, id="too-long"),
        pytest.param([(b"x-api-key", b"a" * 10_000)], None, id="huge"),
        pytest.param([(b"x-api-key", b"")], None, id="empty"),
        pytest.param([(b"x-api-key", b"   ")], None, id="blank"),
        pytest.param([(b"x-api-key", b"k\x00ey")], None, id="nul"),
        pytest.param([(b"x-api-key", b"k\x7fey")], None, id="del"),
        pytest.param([(b"x-api-key", b"k\ney")], None, id="newline"),
        pytest.param([(b"x-api-key", b"cl\xe9")], None, id="latin1"),
        pytest.param([(b"x-api-key", b"one"), (b"x-api-key", b"two")], None, id="two-lines"),
        pytest.param([(b"x-api-key", b"same"), (b"x-api-key", b"same")], None, id="two-identical-lines"),
        pytest.param([(b"x-api-key", b"bad\x00"), (b"x-api-key", b"good")], None, id="two-lines-one-bad"),
        pytest.param([(b"X-API-Key", b"k")], None, id="name-not-lowercased-by-server"),
        pytest.param([(b"authorization", b"k")], None, id="other-header"),
        pytest.param([], None, id="absent"),
    ],
)
def test_api_key_values(headers: list[tuple[bytes, bytes]], expected: str | None) -> None:
    requester = resolve_requester(make_scope(headers), IdentitySources())
    api_keys = [key.value for key in requester.keys if key.source == "api_key"]
    assert api_keys == ([] if expected is None else [expected])
    assert requester.keys[-1] == NET  # an absent key leaves the network key in place


def test_api_key_header_name_is_case_insensitive_in_configuration() -> None:
    sources = IdentitySources(api_key_header="X-Custom-Key")
    assert sources.api_key_header == "x-custom-key"
    requester = resolve_requester(make_scope([(b"x-custom-key", b"abc"), (b"x-api-key", b"nope")]), sources)
    assert requester.primary == IdentityKey("api_key", "abc")


# -- session cookie --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cookie_lines", "expected"),
    [
        pytest.param([b"sid=abc"], "abc", id="only"),
        pytest.param([b"theme=dark; sid=abc; lang=en"], "abc", id="among-others"),
        pytest.param([b"theme=dark", b"sid=abc"], "abc", id="second-line-http2"),
        pytest.param([b'sid="abc"'], "abc", id="quoted"),
        pytest.param([b"sid=a; sid=b"], "b", id="duplicate-last-wins-like-starlette"),
        pytest.param([b"sid="], None, id="empty"),
        pytest.param([b"sid=" + b"x" * (MAX_CREDENTIAL_BYTES + 1)], None, id="too-long"),
        pytest.param([b"sid=" + b"x" * MAX_CREDENTIAL_BYTES], "x" * MAX_CREDENTIAL_BYTES, id="longest"),
        pytest.param([b"sid=caf\xe9"], None, id="latin1"),
        pytest.param([b"sid=a\x01b"], None, id="control"),
        pytest.param([b"sidx=abc; xsid=abc"], None, id="similar-names"),
        pytest.param([], None, id="no-cookie"),
    ],
)
def test_session_cookie(cookie_lines: list[bytes], expected: str | None) -> None:
    scope = make_scope([(b"cookie", line) for line in cookie_lines])
    requester = resolve_requester(scope, IdentitySources(session_cookie="sid"))
    sessions = [key.value for key in requester.keys if key.source == "session"]
    assert sessions == ([] if expected is None else [expected])


def test_session_needs_a_configured_cookie() -> None:
    requester = resolve_requester(make_scope([(b"cookie", b"session=abc")]), IdentitySources())
    assert requester.keys == (NET,)


# -- user ------------------------------------------------------------------------------------


class NoIdentity(BaseUser):
    """A custom user class that forgot to implement ``identity``."""

    @property
    def is_authenticated(self) -> bool:
        return True


class NumericUser:
    is_authenticated = True
    identity = 42


class EmptyUser:
    is_authenticated = True
    identity = ""


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        pytest.param(SimpleUser("alice"), "alice", id="simple-user"),
        pytest.param(NumericUser(), "42", id="numeric-identity"),
        pytest.param(UnauthenticatedUser(), None, id="unauthenticated"),
        pytest.param(EmptyUser(), None, id="empty-identity"),
        pytest.param(NoIdentity(), None, id="identity-not-implemented"),
        pytest.param(object(), None, id="not-a-user"),
        pytest.param(None, None, id="none"),
    ],
)
def test_user_from_starlette_scope(user: Any, expected: str | None) -> None:
    requester = resolve_requester(make_scope(user=user), IdentitySources())
    users = [key.value for key in requester.keys if key.source == "user"]
    assert users == ([] if expected is None else [expected])


def test_user_resolver_override() -> None:
    calls: list[dict[str, Any]] = []

    def from_state(scope: Any) -> str | None:
        calls.append(scope)
        user: str | None = scope.get("state", {}).get("tenant_user")
        return user

    sources = IdentitySources(user=from_state)
    scope = make_scope(user=SimpleUser("ignored"), state={"tenant_user": "t1:u9"})
    assert resolve_requester(scope, sources).primary == IdentityKey("user", "t1:u9")
    assert calls == [scope]
    assert resolve_requester(make_scope(state={}), sources).primary == NET
    assert resolve_requester(make_scope(state={"tenant_user": ""}), sources).primary == NET


def test_user_resolver_errors_propagate() -> None:
    def broken(scope: Any) -> str | None:
        raise RuntimeError("auth backend down")

    with pytest.raises(RuntimeError, match="auth backend down"):
        resolve_requester(make_scope(), IdentitySources(user=broken))


class TokenBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        token = conn.headers.get("authorization", "")
        if token.startswith("User "):
            return AuthCredentials(["read"]), SimpleUser(token.removeprefix("User "))
        return None


@pytest.mark.anyio
async def test_user_behind_real_authentication_middleware() -> None:
    sources = IdentitySources(session_cookie="sid")

    async def whoami(request: Request) -> JSONResponse:
        requester = resolve_requester(request.scope, sources)
        return JSONResponse({"keys": pairs(requester), "address": str(requester.address)})

    app = Starlette(
        routes=[Route("/whoami", whoami)], middleware=[Middleware(AuthenticationMiddleware, backend=TokenBackend())]
    )
    transport = httpx.ASGITransport(app=app, client=("198.51.100.20", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        signed_in = await client.get("/whoami", headers={"authorization": "User bob", "cookie": "sid=xyz"})
        anonymous = await client.get("/whoami")
    assert signed_in.json() == {
        "keys": [["user", "bob"], ["session", "xyz"], ["network", "ip4:198.51.100.20/32"]],
        "address": "198.51.100.20",
    }
    assert anonymous.json()["keys"] == [["network", "ip4:198.51.100.20/32"]]


# -- configuration ---------------------------------------------------------------------------


def test_defaults() -> None:
    sources = IdentitySources()
    assert sources.order == SOURCES == ("api_key", "user", "session", "network")
    assert sources.trusted_proxies.trusts_none
    assert sources == IdentitySources()
    assert hash(sources) == hash(IdentitySources())
    assert IdentitySources(order=["network", "api_key"]).order == ("network", "api_key")  # type: ignore[arg-type]
    assert IdentitySources(ipv6_prefixes=(48, 64)).ipv6_prefixes == (64, 48)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"order": ()}, "non-empty", id="empty-order"),
        pytest.param({"order": "network"}, "non-empty list", id="order-string"),
        pytest.param({"order": ("network", "ip")}, "unknown identity source 'ip'", id="unknown-source"),
        pytest.param({"order": ("user", "user")}, "twice", id="duplicate-source"),
        pytest.param({"api_key_header": ""}, "header name", id="empty-header"),
        pytest.param({"api_key_header": "x api key"}, "header name", id="header-space"),
        pytest.param({"api_key_header": "x-api-key:"}, "header name", id="header-colon"),
        pytest.param({"session_cookie": ""}, "cookie name", id="empty-cookie"),
        pytest.param({"session_cookie": "a;b"}, "cookie name", id="cookie-semicolon"),
        pytest.param({"user": "scope.user"}, "callable", id="user-not-callable"),
        pytest.param({"trusted_proxies": ["10.0.0.0/8"]}, "TrustedProxies", id="proxies-list"),
        pytest.param({"forwarded_header": "x-real-ip"}, "forwarded_header", id="unknown-header"),
        pytest.param({"ipv4_prefixes": (33,)}, r"1\.\.32", id="v4-prefix"),
        pytest.param({"ipv6_prefixes": (0,)}, r"1\.\.128", id="v6-prefix"),
        pytest.param({"ipv6_prefixes": ()}, "at least one", id="no-v6-prefix"),
    ],
)
def test_configuration_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IdentitySources(**options)


# -- properties ------------------------------------------------------------------------------


@given(
    st.lists(
        st.tuples(st.sampled_from([b"x-api-key", b"cookie", b"x-forwarded-for", b"other"]), st.binary(max_size=300)),
        max_size=6,
    ),
    st.one_of(st.none(), st.ip_addresses().map(str), st.text(max_size=20)),
)
def test_any_headers_resolve_to_well_formed_keys(headers: list[tuple[bytes, bytes]], peer: str | None) -> None:
    sources = IdentitySources(session_cookie="sid", trusted_proxies=TrustedProxies(["*"]))
    requester = resolve_requester(make_scope(headers, client=None if peer is None else (peer, 1)), sources)
    assert requester.primary == (requester.keys[0] if requester.keys else None)
    for key in requester.keys:
        assert key.source in SOURCES
        assert key.value
        assert len(key.value) <= MAX_CREDENTIAL_BYTES
        assert key.value.isascii()
        assert key.value.isprintable()
    assert [key.source for key in requester.keys] == sorted((key.source for key in requester.keys), key=SOURCES.index)
