"""Sealed record IDs: round trips, stability within scope, viewer binding, tampering, errors."""

from __future__ import annotations

import string
from typing import Any

import pytest
from clocks import FrozenClock
from hypothesis import assume, given
from hypothesis import strategies as st

from shield.errors import ExpiredToken, ForeignToken, MalformedToken, TokenError
from shield.tokens import Keyring, RecordSealer, TokenCodec, base64url
from shield.tokens.codec import FORMATS, TokenFormat

SECRET = b"s" * 32
EPOCH = 3600.0
T0 = 1_700_000_000.0
ALPHABET = string.ascii_letters + string.digits + "-_"
ALICE, BOB = "api-key:alice", "api-key:bob"

formats = st.sampled_from(FORMATS)
identities = st.text(max_size=40)
kinds = st.text(min_size=1, max_size=20)
raw_ids = st.integers(-(2**70), 2**70) | st.text(max_size=40)


def make(
    format_: TokenFormat = "signed", *, clock: FrozenClock | None = None, **options: Any
) -> tuple[RecordSealer, FrozenClock]:
    clock = clock or FrozenClock(T0)
    codec = TokenCodec(Keyring([SECRET], clock=clock, epoch_seconds=EPOCH), format=format_)
    return RecordSealer(codec, **options), clock


def refused(sealer: RecordSealer, token: str, identity: str = ALICE, kind: str = "user") -> TokenError:
    with pytest.raises(TokenError) as caught:
        sealer.unseal(identity, kind, token)
    return caught.value


@given(formats, identities, kinds, raw_ids)
def test_round_trip_keeps_the_id_and_its_type(format_: TokenFormat, identity: str, kind: str, raw_id: Any) -> None:
    sealer, _ = make(format_)
    token = sealer.seal(identity, kind, raw_id)
    assert set(token) <= set(ALPHABET)
    unsealed = sealer.unseal(identity, kind, token)
    assert unsealed == raw_id
    assert type(unsealed) is type(raw_id)


@pytest.mark.parametrize("format_", FORMATS)
def test_ints_and_their_digit_strings_stay_apart(format_: TokenFormat) -> None:
    sealer, _ = make(format_)
    assert sealer.unseal(ALICE, "user", sealer.seal(ALICE, "user", 42)) == 42
    assert sealer.unseal(ALICE, "user", sealer.seal(ALICE, "user", "42")) == "42"
    assert sealer.seal(ALICE, "user", 42) != sealer.seal(ALICE, "user", "42")


@pytest.mark.parametrize("format_", FORMATS)
def test_a_typical_sealed_id_is_short(format_: TokenFormat) -> None:
    sealer, _ = make(format_)
    assert len(sealer.seal(ALICE, "user", 100_042)) <= 64


@given(formats, identities, kinds, raw_ids, st.floats(0, EPOCH - 1))
def test_stable_within_the_key_epoch_and_across_sealer_instances(
    format_: TokenFormat, identity: str, kind: str, raw_id: Any, elapsed: float
) -> None:
    clock = FrozenClock(T0 // EPOCH * EPOCH)
    sealer, _ = make(format_, clock=clock)
    token = sealer.seal(identity, kind, raw_id)
    sealer.seal("someone else", kind, raw_id)  # the viewer memo must not leak between viewers
    clock.advance(elapsed)
    assert sealer.seal(identity, kind, raw_id) == token
    other_worker, _ = make(format_, clock=clock)
    assert other_worker.seal(identity, kind, raw_id) == token
    assert other_worker.unseal(identity, kind, token) == raw_id


@given(formats, raw_ids)
def test_the_previous_epoch_still_unseals_then_expires(format_: TokenFormat, raw_id: Any) -> None:
    sealer, clock = make(format_)
    token = sealer.seal(ALICE, "user", raw_id)
    clock.advance(EPOCH)
    assert sealer.seal(ALICE, "user", raw_id) != token  # a new epoch, a new spelling
    assert sealer.unseal(ALICE, "user", token) == raw_id
    clock.advance(EPOCH)
    assert isinstance(refused(sealer, token), ExpiredToken)


@given(formats, identities, identities, kinds, raw_ids)
def test_ids_differ_across_identities_and_never_unseal_for_another(
    format_: TokenFormat, mine: str, theirs: str, kind: str, raw_id: Any
) -> None:
    assume(mine != theirs)
    sealer, _ = make(format_)
    token = sealer.seal(mine, kind, raw_id)
    assert sealer.seal(theirs, kind, raw_id) != token
    error = refused(sealer, token, identity=theirs, kind=kind)
    assert isinstance(error, ForeignToken)
    assert error.reason == "foreign_identity"
    assert (error.status, error.slug) == (400, "token-invalid")
    assert "foreign" not in str(error)


@given(formats, kinds, kinds, raw_ids)
def test_an_id_of_one_kind_never_unseals_as_another(format_: TokenFormat, kind: str, other: str, raw_id: Any) -> None:
    assume(kind != other)
    sealer, _ = make(format_)
    error = refused(sealer, sealer.seal(ALICE, kind, raw_id), kind=other)
    assert isinstance(error, MalformedToken)
    assert error.reason == "bad_tag"


def test_detailed_errors_name_a_foreign_id() -> None:
    sealer, _ = make(detailed_errors=True)
    error = refused(sealer, sealer.seal(ALICE, "user", 7), identity=BOB)
    assert isinstance(error, ForeignToken)
    assert (error.status, error.slug, str(error)) == (403, "token-foreign", ForeignToken.detailed_message)


@given(formats, raw_ids, st.data())
def test_any_single_byte_change_truncation_or_extension_is_refused(
    format_: TokenFormat, raw_id: Any, data: st.DataObject
) -> None:
    sealer, _ = make(format_)
    token = sealer.seal(ALICE, "user", raw_id)
    raw = base64url.decode(token)
    i = data.draw(st.integers(0, len(raw) - 1))
    changed = raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1 :]
    for bad in (changed, raw[: data.draw(st.integers(0, len(raw) - 1))], raw + data.draw(st.binary(min_size=1))):
        error = refused(sealer, base64url.encode(bad))
        assert isinstance(error, MalformedToken | ExpiredToken)
        assert not isinstance(error, ForeignToken)
    j = data.draw(st.integers(0, len(token) - 1))
    char = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != token[j]))
    refused(sealer, token[:j] + char + token[j + 1 :])


@pytest.mark.parametrize("payload", [{}, {"i": b"12345678"}, {"i": b"1234", "v": 1}, {"i": b"12345678", "v": 1.5}])
def test_an_id_of_the_wrong_shape_is_malformed(payload: dict[str, Any]) -> None:
    sealer, _ = make()
    error = refused(sealer, sealer.codec.seal("record-id:user", payload))
    assert isinstance(error, MalformedToken)
    assert error.reason == "bad_payload"


@pytest.mark.parametrize("raw_id", [True, 1.5, None, b"7", (7,)])
def test_record_ids_are_ints_or_strings(raw_id: Any) -> None:
    sealer, _ = make()
    with pytest.raises(TypeError, match="record ID"):
        sealer.seal(ALICE, "user", raw_id)


def test_an_empty_kind_is_a_value_error() -> None:
    sealer, _ = make()
    with pytest.raises(ValueError, match="kind"):
        sealer.seal(ALICE, "", 1)
