"""Cursors: round trips, tampering, binding to identity/route/query, lifetimes, depth, errors."""

from __future__ import annotations

import string
from typing import Any

import pytest
from clocks import FrozenClock
from hypothesis import assume, given
from hypothesis import strategies as st

from shield.errors import (
    ChainTooDeep,
    ExpiredCursor,
    ExpiredToken,
    ForeignToken,
    MalformedToken,
    ShieldError,
    TokenError,
)
from shield.tokens import Cursor, CursorSealer, Keyring, TokenCodec, base64url
from shield.tokens.codec import FORMATS, TokenFormat, token_header
from shield.tokens.cursor import query_bytes

SECRET = b"s" * 32
EPOCH = 3600.0
T0 = 1_700_000_000.0  # 800 s into an epoch: a chain's life crosses an epoch boundary
TTL, CHAIN_TTL, MAX_DEPTH = 600, 1800, 20
EXCLUDE = frozenset({"cursor", "offset", "after_id"})
ALPHABET = string.ascii_letters + string.digits + "-_"

ALICE, BOB = "api-key:alice", "api-key:bob"
ROUTE = "/users/{user_id}/orders"
QUERY = {"sort": "-created", "status": "open", "limit": "50"}

formats = st.sampled_from(FORMATS)
identities = st.text(max_size=40)
routes = st.text(min_size=1, max_size=40)
names = st.text(max_size=8).filter(lambda name: name not in EXCLUDE)
queries = st.lists(st.tuples(names, st.text(max_size=12)), max_size=5)
positions = st.integers(-(2**70), 2**70) | st.text(max_size=30)


def make(
    format_: TokenFormat = "signed", *, clock: FrozenClock | None = None, **options: Any
) -> tuple[CursorSealer, FrozenClock]:
    clock = clock or FrozenClock(T0)
    codec = TokenCodec(Keyring([SECRET], clock=clock, epoch_seconds=EPOCH), format=format_, max_length=1024)
    settings: dict[str, Any] = {"ttl": TTL, "chain_ttl": CHAIN_TTL, "max_depth": MAX_DEPTH, "exclude": EXCLUDE}
    return CursorSealer(codec, clock=clock, **(settings | options)), clock


def refused(
    sealer: CursorSealer, token: str, identity: str = ALICE, route: str = ROUTE, query: Any = None
) -> TokenError:
    with pytest.raises(TokenError) as caught:
        sealer.open(token, identity, route, QUERY if query is None else query)
    return caught.value


# --- round trips and size -------------------------------------------------------------------------


@given(formats, identities, routes, queries, positions)
def test_round_trip(
    format_: TokenFormat, identity: str, route: str, query: list[tuple[str, str]], position: Any
) -> None:
    sealer, _ = make(format_)
    token = sealer.issue(identity, route, query, position)
    assert set(token) <= set(ALPHABET)
    cursor = sealer.open(token, identity, route, query)
    assert cursor.position == position
    assert type(cursor.position) is type(position)
    assert cursor.route == route
    assert (cursor.issued_at, cursor.expires_at, cursor.chain_start, cursor.depth) == (T0, T0 + TTL, T0, 1)


@pytest.mark.parametrize("format_", FORMATS)
@pytest.mark.parametrize("position", [0, 1850, 2**32, "100042", "eyJpZCI6MTAwMDQyfQ"])
def test_a_typical_cursor_is_compact(format_: TokenFormat, position: int | str) -> None:
    """Under 120 characters for a number; an app's own cursor string adds 4/3 of its length."""
    sealer, clock = make(format_)
    first = sealer.open(sealer.issue(ALICE, ROUTE, QUERY, 50), ALICE, ROUTE, QUERY)
    clock.advance(30)
    token = sealer.issue(ALICE, ROUTE, QUERY, position, previous=first)
    assert len(token) < 120 if isinstance(position, int) else len(token) < 110 + len(position) * 4 / 3, token


@given(formats, identities, queries, st.integers())
def test_the_token_holds_no_identity_or_query_in_clear(
    format_: TokenFormat, identity: str, query: list[tuple[str, str]], position: int
) -> None:
    sealer, _ = make(format_)
    raw = base64url.decode(sealer.issue(identity, ROUTE, query, position))
    for text in [identity, ROUTE, *(part for pair in query for part in pair)]:
        if len(text.encode()) >= 4:
            assert text.encode() not in raw


def test_query_bytes_are_unambiguous_and_order_insensitive() -> None:
    assert query_bytes([("a", "b=c")], frozenset()) != query_bytes([("a=b", "c")], frozenset())
    assert query_bytes([("a", "1"), ("b", "2")], frozenset()) == query_bytes({"b": "2", "a": "1"}, frozenset())
    assert query_bytes([("a", "1"), ("a", "2")], frozenset()) != query_bytes([("a", "1")], frozenset())
    assert query_bytes([("offset", "5"), ("a", "1")], frozenset({"offset"})) == query_bytes({"a": "1"}, frozenset())
    surrogates = query_bytes([("a", "\ud800")], frozenset())
    assert surrogates != query_bytes([("a", "\ud801")], frozenset())
    assert surrogates != query_bytes([("a", "")], frozenset())


@given(st.lists(st.tuples(st.text(), st.text())), st.lists(st.tuples(st.text(), st.text())))
def test_query_bytes_are_injective_up_to_order(query: list[tuple[str, str]], other: list[tuple[str, str]]) -> None:
    same = query_bytes(query, frozenset()) == query_bytes(other, frozenset())
    assert same == (sorted(query) == sorted(other))


# --- tampering --------------------------------------------------------------------------------------


@pytest.mark.parametrize("format_", FORMATS)
def test_every_single_character_change_truncation_and_extension_is_refused(format_: TokenFormat) -> None:
    sealer, _ = make(format_)
    token = sealer.issue(ALICE, ROUTE, QUERY, 1850)
    for i, original in enumerate(token):
        for char in ALPHABET + "=.~ é":
            if char != original:
                refused(sealer, token[:i] + char + token[i + 1 :])
    for end in range(len(token)):
        refused(sealer, token[:end])
        refused(sealer, token[end + 1 :])
    for extra in [*ALPHABET, "=", "AA", "AAAA"]:
        refused(sealer, token + extra)
        refused(sealer, extra + token)


@given(formats, positions, st.data())
def test_any_single_byte_change_truncation_or_extension_is_refused(
    format_: TokenFormat, position: Any, data: st.DataObject
) -> None:
    sealer, _ = make(format_)
    raw = base64url.decode(sealer.issue(ALICE, ROUTE, QUERY, position))
    i = data.draw(st.integers(0, len(raw) - 1))
    changed = raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1 :]
    for bad in (changed, raw[: data.draw(st.integers(0, len(raw) - 1))], raw + data.draw(st.binary(min_size=1))):
        error = refused(sealer, base64url.encode(bad))
        assert isinstance(error, MalformedToken | ExpiredToken)  # a changed epoch byte may read as stale
        assert not isinstance(error, ForeignToken)


@given(formats)
def test_a_cursor_of_the_wrong_shape_is_malformed(format_: TokenFormat) -> None:
    sealer, _ = make(format_)
    for payload in (
        {"p": 1},
        {"i": b"12345678", "r": b"1234", "q": b"123456", "p": 1.5, "t": 1, "x": 1, "c": 0, "d": 1},
    ):
        token = sealer.codec.seal("cursor", payload)
        error = refused(sealer, token)
        assert isinstance(error, MalformedToken)
        assert error.reason == "bad_payload"


def test_a_record_id_never_opens_as_a_cursor() -> None:
    sealer, _ = make()
    token = sealer.issue(ALICE, ROUTE, QUERY, 7)
    other = CursorSealer(sealer.codec, purpose="record-id", exclude=EXCLUDE)
    assert refused(other, token).reason == "bad_tag"


# --- binding ----------------------------------------------------------------------------------------


@given(formats, identities, identities, positions)
def test_a_cursor_never_opens_for_another_identity(format_: TokenFormat, mine: str, theirs: str, position: Any) -> None:
    assume(mine != theirs)
    sealer, _ = make(format_)
    error = refused(sealer, sealer.issue(mine, ROUTE, QUERY, position), identity=theirs)
    assert isinstance(error, ForeignToken)
    assert error.reason == "foreign_identity"


@given(formats, routes, routes)
def test_a_cursor_never_opens_on_another_route(format_: TokenFormat, route: str, other: str) -> None:
    assume(route != other)
    sealer, _ = make(format_)
    error = refused(sealer, sealer.issue(ALICE, route, QUERY, 1), route=other)
    assert isinstance(error, ForeignToken)
    assert error.reason == "foreign_route"


@given(formats, queries, queries)
def test_a_cursor_never_opens_with_other_filters_sort_or_page_size(
    format_: TokenFormat, query: list[tuple[str, str]], other: list[tuple[str, str]]
) -> None:
    assume(sorted(query) != sorted(other))
    sealer, _ = make(format_)
    error = refused(sealer, sealer.issue(ALICE, ROUTE, query, 1), query=other)
    assert isinstance(error, ForeignToken)
    assert error.reason == "foreign_query"


@given(
    formats,
    queries,
    st.randoms(use_true_random=False),
    st.lists(st.tuples(st.sampled_from(sorted(EXCLUDE)), st.text())),
)
def test_reordered_query_parameters_and_excluded_ones_still_open(
    format_: TokenFormat, query: list[tuple[str, str]], random: Any, native: list[tuple[str, str]]
) -> None:
    sealer, _ = make(format_)
    token = sealer.issue(ALICE, ROUTE, query, 1)
    shuffled = [*query, *native]
    random.shuffle(shuffled)
    assert sealer.open(token, ALICE, ROUTE, shuffled).position == 1


@pytest.mark.parametrize(
    "query",
    [
        {**QUERY, "status": "closed"},  # a filter
        {**QUERY, "sort": "created"},  # the sort
        {**QUERY, "limit": "500"},  # the page size
        {**QUERY, "Offset": "0"},  # an oddly cased native name is not excluded
        {k: v for k, v in QUERY.items() if k != "status"},
        [*QUERY.items(), ("status", "open")],  # a repeated parameter
    ],
)
def test_changed_query_parameters_do_not_open(query: Any) -> None:
    sealer, _ = make()
    assert sealer.open(sealer.issue(ALICE, ROUTE, QUERY, 1), ALICE, ROUTE, {**QUERY, "offset": "9"}).position == 1
    assert refused(sealer, sealer.issue(ALICE, ROUTE, QUERY, 1), query=query).reason == "foreign_query"


def test_binding_is_checked_before_expiry_and_depth() -> None:
    """A foreign token is refused alike whatever its age: no oracle in the status."""
    sealer, clock = make(max_depth=1)
    token = sealer.issue(ALICE, ROUTE, QUERY, 1)
    clock.advance(TTL + 1)
    assert isinstance(refused(sealer, token, identity=BOB), ForeignToken)
    clock.now = T0
    deep = sealer.issue(ALICE, ROUTE, QUERY, 2, previous=sealer.open(token, ALICE, ROUTE, QUERY))
    assert isinstance(refused(sealer, deep, identity=BOB), ForeignToken)
    assert isinstance(refused(sealer, deep), ChainTooDeep)


# --- lifetimes --------------------------------------------------------------------------------------


@given(formats, st.floats(0, TTL - 0.001))
def test_a_cursor_opens_until_it_expires(format_: TokenFormat, elapsed: float) -> None:
    sealer, clock = make(format_)
    token = sealer.issue(ALICE, ROUTE, QUERY, 1)
    clock.advance(elapsed)
    assert sealer.open(token, ALICE, ROUTE, QUERY).position == 1
    clock.now = T0 + TTL
    error = refused(sealer, token)
    assert isinstance(error, ExpiredCursor)
    assert error.reason == "expired"


@given(formats, st.integers(1, TTL - 1), st.floats(0, 0.999))
def test_a_chain_refreshed_every_few_seconds_still_dies_at_chain_ttl(
    format_: TokenFormat, step: int, jitter: float
) -> None:
    sealer, clock = make(format_, max_depth=10**6)
    clock.advance(jitter)  # the chain starts at a whole second: issued_at rounds down
    cursor: Cursor | None = None
    token = sealer.issue(ALICE, ROUTE, QUERY, 0)
    start = int(clock.now)
    while clock.now + step < start + CHAIN_TTL:
        clock.advance(step)
        cursor = sealer.open(token, ALICE, ROUTE, QUERY)
        assert cursor.chain_start == start
        token = sealer.issue(ALICE, ROUTE, QUERY, cursor.depth, previous=cursor)
    clock.now = start + CHAIN_TTL
    error = refused(sealer, token)
    assert isinstance(error, ExpiredCursor)
    assert error.reason == "chain_expired"


def test_a_cursor_issued_near_the_end_of_its_chain_expires_with_the_chain() -> None:
    sealer, clock = make()
    first = sealer.open(sealer.issue(ALICE, ROUTE, QUERY, 0), ALICE, ROUTE, QUERY)
    clock.advance(CHAIN_TTL - 10)
    cursor = sealer.open(sealer.issue(ALICE, ROUTE, QUERY, 1, previous=first), ALICE, ROUTE, QUERY)
    assert cursor.expires_at == T0 + CHAIN_TTL


def test_a_shorter_chain_ttl_applies_to_cursors_already_issued() -> None:
    long_lived, clock = make(chain_ttl=10_000)
    token = long_lived.issue(ALICE, ROUTE, QUERY, 0)
    short = CursorSealer(long_lived.codec, ttl=TTL, chain_ttl=100, exclude=EXCLUDE, clock=clock)
    clock.advance(100)
    assert refused(short, token).reason == "chain_expired"
    assert long_lived.open(token, ALICE, ROUTE, QUERY).position == 0


def test_cursors_keep_binding_across_a_key_epoch_boundary() -> None:
    """The digests are keyed by the token's epoch, not by the epoch at opening time."""
    sealer, clock = make(ttl=int(EPOCH))
    clock.now = (T0 // EPOCH + 1) * EPOCH - 1
    token = sealer.issue(ALICE, ROUTE, QUERY, 3)
    clock.advance(2)
    assert sealer.open(token, ALICE, ROUTE, QUERY).position == 3


def test_a_seal_that_straddles_an_epoch_boundary_keeps_the_digest_epoch() -> None:
    """The token is pinned to the epoch its digests were keyed with, whatever the clock does meanwhile."""
    sealer, clock = make()
    boundary = (T0 // EPOCH + 1) * EPOCH
    clock.now = boundary - 0.5
    codec_sealer = sealer.codec.packed_sealer

    def late_sealer(purpose: str, *, epoch: int | None = None) -> Any:
        clock.now = boundary  # the key epoch turns between digest and seal
        return codec_sealer(purpose, epoch=epoch)

    sealer.codec.packed_sealer = late_sealer  # type: ignore[method-assign]
    token = sealer.issue(ALICE, ROUTE, QUERY, 3)
    assert token_header(token)[1] == sealer.codec.keyring.current_epoch() - 1
    assert sealer.open(token, ALICE, ROUTE, QUERY).position == 3


# --- depth ------------------------------------------------------------------------------------------


@given(formats, st.integers(1, 30))
def test_depth_limit(format_: TokenFormat, max_depth: int) -> None:
    sealer, clock = make(format_, max_depth=max_depth, chain_ttl=10**6, ttl=600)
    token = sealer.issue(ALICE, ROUTE, QUERY, 0)
    for depth in range(1, max_depth + 1):
        cursor = sealer.open(token, ALICE, ROUTE, QUERY)
        assert cursor.depth == depth
        clock.advance(1)
        token = sealer.issue(ALICE, ROUTE, QUERY, depth, previous=cursor)
    error = refused(sealer, token)
    assert isinstance(error, ChainTooDeep)
    assert (error.status, error.slug, error.reason) == (403, "chain-too-deep", "too_deep")


# --- errors -----------------------------------------------------------------------------------------


def test_error_classes_carry_documented_statuses_slugs_and_generic_messages() -> None:
    table = {
        MalformedToken("bad_tag"): (400, "token-invalid", "malformed or tampered token"),
        ForeignToken("foreign_query"): (400, "token-invalid", "malformed or tampered token"),
        ForeignToken("foreign_query", detailed=True): (
            403,
            "token-foreign",
            "token issued for another client or request",
        ),
        ExpiredToken("stale_epoch"): (410, "token-expired", "expired token"),
        ExpiredCursor("chain_expired"): (410, "token-expired", "expired token"),
        ChainTooDeep("too_deep"): (
            403,
            "chain-too-deep",
            "too many pages in one walk; start again from the first page",
        ),
    }
    for error, (status, slug, message) in table.items():
        assert isinstance(error, TokenError)
        assert isinstance(error, ShieldError)
        assert (error.status, error.slug, str(error)) == (status, slug, message)
        assert error.reason not in str(error)
        assert error.reason in repr(error)


@given(formats, st.booleans(), st.sampled_from(["identity", "route", "query"]))
def test_a_foreign_token_looks_malformed_unless_detailed_errors(
    format_: TokenFormat, detailed: bool, part: str
) -> None:
    sealer, _ = make(format_, detailed_errors=detailed)
    token = sealer.issue(ALICE, ROUTE, QUERY, 1)
    other: dict[str, Any] = (
        {"identity": BOB} if part == "identity" else {"route": "/x"} if part == "route" else {"query": {}}
    )
    error = refused(sealer, token, **other)
    assert isinstance(error, ForeignToken)
    assert error.reason == f"foreign_{part}"  # the truth, for logs
    malformed = refused(sealer, token[:-2] + ("AA" if token[-2:] != "AA" else "BA"))
    assert isinstance(malformed, MalformedToken)
    public = (error.status, error.slug, str(error))
    if detailed:
        assert public == (403, "token-foreign", ForeignToken.detailed_message)
    else:
        assert public == (malformed.status, malformed.slug, str(malformed))
        assert "foreign" not in " ".join(map(str, public))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ttl": 0}, "ttl"),
        ({"ttl": 1.5}, "ttl"),
        ({"chain_ttl": -1}, "chain_ttl"),
        ({"max_depth": 0}, "max_depth"),
        ({"max_depth": True}, "max_depth"),
        ({"ttl": int(EPOCH) + 1}, "epoch_seconds"),
        ({"exclude": "cursor"}, "exclude"),
    ],
)
def test_bad_configuration_is_a_value_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**options)


@pytest.mark.parametrize("position", [True, 1.5, None, b"12", [1]])
def test_positions_are_ints_or_strings(position: Any) -> None:
    sealer, _ = make()
    with pytest.raises(TypeError, match="position"):
        sealer.issue(ALICE, ROUTE, QUERY, position)


@pytest.mark.parametrize("format_", FORMATS)
def test_unique_cursors_differ_within_a_second_and_still_open(format_: TokenFormat) -> None:
    plain, _ = make(format_)
    unique, _ = make(format_, unique=True)
    assert plain.issue(ALICE, ROUTE, QUERY, 7) == plain.issue(ALICE, ROUTE, QUERY, 7)
    first, second = unique.issue(ALICE, ROUTE, QUERY, 7), unique.issue(ALICE, ROUTE, QUERY, 7)
    assert first != second
    assert unique.open(first, ALICE, ROUTE, QUERY).position == unique.open(second, ALICE, ROUTE, QUERY).position == 7
    assert len(first) <= 130
