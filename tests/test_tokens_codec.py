"""TokenCodec: round trips, tamper resistance, purpose and key separation, rotation, opacity."""

from __future__ import annotations

import base64
import hashlib
import hmac
import string
from typing import Any

import pytest
from clocks import FrozenClock
from hypothesis import given
from hypothesis import strategies as st

import shield.tokens.codec as codec_module
import shield.tokens.keys as keys_module
from shield.errors import ExpiredToken, MalformedToken, ShieldError, TokenError
from shield.tokens import base64url
from shield.tokens.codec import FORMATS, MIN_LENGTH, TokenCodec, TokenFormat
from shield.tokens.keys import Keyring, derive_key
from shield.tokens.packing import pack, unpack

OLD, NEW, RETIRED = b"o" * 32, b"n" * 32, b"r" * 32
EPOCH = 3600.0
T0 = 1_700_000_000.0
ALPHABET = string.ascii_letters + string.digits + "-_"

CURSOR: dict[str, Any] = {
    "i": hashlib.sha256(b"api-key:alice").digest()[:8],  # identity hash
    "r": 3,  # route id
    "q": hashlib.sha256(b"limit=50&sort=name").digest()[:6],  # query digest
    "p": 1850,  # native position (offset)
    "t": 1_700_000_000,  # issued at
    "x": 1_700_000_900,  # expires
    "c": 1_699_999_000,  # chain start
    "d": 37,  # depth
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
payloads = st.dictionaries(st.text(max_size=8), values, max_size=6)
purposes = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)
formats = st.sampled_from(FORMATS)


def make(
    format_: TokenFormat = "signed", *secrets: bytes, clock: FrozenClock | None = None, **options: Any
) -> TokenCodec:
    keyring = Keyring(list(secrets or [OLD]), clock=clock or FrozenClock(T0), epoch_seconds=EPOCH)
    return TokenCodec(keyring, format=format_, max_length=4096, **options)


def refused(codec: TokenCodec, token: str, purpose: str = "cursor") -> TokenError:
    with pytest.raises(TokenError) as caught:
        codec.unseal(purpose, token)
    return caught.value


# --- round trips --------------------------------------------------------------------------------


@given(formats, purposes, payloads)
def test_round_trip(format_: TokenFormat, purpose: str, payload: dict[str, Any]) -> None:
    codec = make(format_)
    token = codec.seal(purpose, payload)
    assert set(token) <= set(ALPHABET)
    assert codec.unseal(purpose, token) == payload


@pytest.mark.parametrize("format_", FORMATS)
def test_a_typical_cursor_is_short_and_deterministic(format_: TokenFormat) -> None:
    codec = make(format_)
    token = codec.seal("cursor", CURSOR)
    assert len(token) < 120
    assert codec.seal("cursor", CURSOR) == token
    assert codec.unseal("cursor", token) == CURSOR


@given(formats, payloads)
def test_tokens_of_another_epoch_differ(format_: TokenFormat, payload: dict[str, Any]) -> None:
    clock = FrozenClock(T0)
    codec = make(format_, clock=clock)
    first = codec.seal("cursor", payload)
    clock.advance(EPOCH)
    assert codec.seal("cursor", payload) != first


# --- tampering ------------------------------------------------------------------------------------


@pytest.mark.parametrize("format_", FORMATS)
def test_every_single_character_change_is_refused(format_: TokenFormat) -> None:
    codec = make(format_)
    token = codec.seal("cursor", CURSOR)
    for i, original in enumerate(token):
        for char in ALPHABET + "=+/.~ é\x00":
            if char != original:
                refused(codec, token[:i] + char + token[i + 1 :])


@pytest.mark.parametrize("format_", FORMATS)
def test_every_truncation_and_extension_is_refused(format_: TokenFormat) -> None:
    codec = make(format_)
    token = codec.seal("cursor", CURSOR)
    for end in range(len(token)):
        refused(codec, token[:end])
        refused(codec, token[end + 1 :])
    for extra in [*ALPHABET, "=", "==", "AA", "AAA", "AAAA", "\n"]:
        refused(codec, token + extra)
        refused(codec, extra + token)


@given(formats, payloads, st.data())
def test_any_single_byte_change_truncation_or_extension_is_refused(
    format_: TokenFormat, payload: dict[str, Any], data: st.DataObject
) -> None:
    codec = make(format_)
    token = codec.seal("cursor", payload)
    raw = base64url.decode(token)
    i = data.draw(st.integers(0, len(raw) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = raw[:i] + bytes([raw[i] ^ flip]) + raw[i + 1 :]
    refused(codec, base64url.encode(changed))
    refused(codec, base64url.encode(raw[: data.draw(st.integers(0, len(raw) - 1))]))
    refused(codec, base64url.encode(raw + data.draw(st.binary(min_size=1, max_size=8))))
    char = data.draw(st.characters(codec="utf-8").filter(lambda c: c != token[i]))
    j = data.draw(st.integers(0, len(token) - 1))
    if char != token[j]:
        refused(codec, token[:j] + char + token[j + 1 :])


@given(formats, payloads)
def test_tampered_tokens_are_refused_before_the_payload_is_decoded(
    format_: TokenFormat, payload: dict[str, Any]
) -> None:
    codec = make(format_)
    raw = bytearray(base64url.decode(codec.seal("cursor", payload)))
    raw[-1] ^= 1
    decoded: list[bytes] = []
    original = unpack

    def spy(data: bytes) -> dict[str, Any]:
        decoded.append(data)
        return original(data)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codec_module, "unpack", spy)
        assert refused(codec, base64url.encode(bytes(raw))).reason == "bad_tag"
    assert decoded == []


def test_tags_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    codec = make("signed")
    token = codec.seal("cursor", CURSOR)
    monkeypatch.setattr(hmac, "compare_digest", spy)
    codec.unseal("cursor", token)
    assert len(compared) == 1
    assert len(compared[0][0]) == 16


# --- separation ---------------------------------------------------------------------------------


@given(formats, purposes, purposes, payloads)
def test_a_token_for_one_purpose_never_opens_for_another(
    format_: TokenFormat, a: str, b: str, payload: dict[str, Any]
) -> None:
    codec = make(format_)
    token = codec.seal(a, payload)
    if a != b:
        assert refused(codec, token, b).reason == "bad_tag"


def test_formats_are_separate_unless_both_are_accepted() -> None:
    signed, encrypted = make("signed"), make("encrypted")
    assert refused(encrypted, signed.seal("cursor", CURSOR)).reason == "bad_format"
    assert refused(signed, encrypted.seal("cursor", CURSOR)).reason == "bad_format"
    migrating = make("encrypted", accept=["signed", "encrypted"])
    assert migrating.unseal("cursor", signed.seal("cursor", CURSOR)) == CURSOR
    assert migrating.unseal("cursor", encrypted.seal("cursor", CURSOR)) == CURSOR


@pytest.mark.parametrize("format_", FORMATS)
def test_retired_keys_are_refused_and_older_keys_in_the_ring_verify(format_: TokenFormat) -> None:
    by_old = make(format_, OLD).seal("cursor", CURSOR)
    by_retired = make(format_, RETIRED).seal("cursor", CURSOR)
    current = make(format_, OLD, NEW)  # NEW signs, OLD still verifies
    assert current.unseal("cursor", by_old) == CURSOR
    assert refused(current, by_retired).reason == "unknown_key"
    assert base64url.decode(current.seal("cursor", CURSOR))[2:6] == current.keyring.signer.key_id


@pytest.mark.parametrize("format_", FORMATS)
def test_rotation_procedure_without_downtime(format_: TokenFormat) -> None:
    """Two workers go through the documented steps one at a time; every token keeps working."""

    def worker(secrets: list[bytes], pending: tuple[bytes, ...] = ()) -> TokenCodec:
        keyring = Keyring(secrets, pending=pending, clock=FrozenClock(T0), epoch_seconds=EPOCH)
        return TokenCodec(keyring, format=format_)

    steps = [
        [worker([OLD]), worker([OLD])],
        [worker([OLD], (NEW,)), worker([OLD])],  # 1. add NEW as pending, one worker at a time
        [worker([OLD], (NEW,)), worker([OLD], (NEW,))],
        [worker([OLD, NEW]), worker([OLD], (NEW,))],  # 2. make NEW the signer, one at a time
        [worker([OLD, NEW]), worker([OLD, NEW])],
        [worker([NEW]), worker([OLD, NEW])],  # 3. after the longest token lifetime, drop OLD
    ]
    # Each state is a rolling deploy's snapshot: tokens issued in it, or in the state before,
    # must open on every worker. OLD-signed tokens from step 2 are gone before step 3 begins.
    for before, after in zip([steps[0], *steps[:-1]], steps, strict=True):
        for issuer in before + after:
            token = issuer.seal("cursor", CURSOR)
            for verifier in after:
                assert verifier.unseal("cursor", token) == CURSOR
    # Dropping OLD while OLD-signed tokens live is what step 3's wait is for.
    assert refused(steps[-1][0], steps[3][1].seal("cursor", CURSOR)).reason == "unknown_key"


def test_verification_derives_exactly_one_key_whatever_the_ring_size(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = [bytes([n]) * 32 for n in range(10)]
    token = bytearray(base64url.decode(make("signed", secrets[3]).seal("cursor", CURSOR)))
    token[-1] ^= 1  # a forgery with a valid key id
    derived: list[str] = []

    def counting(secret: bytes, context: str, epoch: int) -> bytes:
        derived.append(context)
        return derive_key(secret, context, epoch)

    monkeypatch.setattr(keys_module, "derive_key", counting)
    assert refused(make("signed", *secrets), base64url.encode(bytes(token))).reason == "bad_tag"
    assert derived == ["signed:cursor"]


# --- rotation -------------------------------------------------------------------------------------


@given(formats, st.floats(0, EPOCH - 1e-6), st.floats(0, 4 * EPOCH))
def test_the_previous_epoch_verifies_and_older_ones_expire(format_: TokenFormat, offset: float, elapsed: float) -> None:
    start = (T0 // EPOCH) * EPOCH
    clock = FrozenClock(start + offset)
    codec = make(format_, clock=clock)
    token = codec.seal("cursor", CURSOR)
    clock.advance(elapsed)
    if (clock.now // EPOCH) - (start // EPOCH) <= 1:
        assert codec.unseal("cursor", token) == CURSOR
    else:
        error = refused(codec, token)
        assert isinstance(error, ExpiredToken)
        assert error.reason == "stale_epoch"


@pytest.mark.parametrize("format_", FORMATS)
def test_rotation_grace_ends_exactly_two_epochs_after_issue(format_: TokenFormat) -> None:
    start = (T0 // EPOCH) * EPOCH
    clock = FrozenClock(start)
    codec = make(format_, clock=clock)
    token = codec.seal("cursor", CURSOR)
    clock.now = start + 2 * EPOCH - 0.001
    assert codec.unseal("cursor", token) == CURSOR
    clock.now = start + 2 * EPOCH
    assert isinstance(refused(codec, token), ExpiredToken)


def test_a_worker_slightly_ahead_issues_tokens_the_others_accept() -> None:
    boundary = (T0 // EPOCH + 1) * EPOCH
    ahead, behind = FrozenClock(boundary + 0.5), FrozenClock(boundary - 2.0)
    token = make("signed", clock=ahead).seal("cursor", CURSOR)
    assert make("signed", clock=behind).unseal("cursor", token) == CURSOR
    behind.now = boundary - 60
    assert refused(make("signed", clock=behind), token).reason == "future_epoch"


# --- opacity --------------------------------------------------------------------------------------


@given(
    st.dictionaries(
        st.text(min_size=6, max_size=10),
        st.text(min_size=6, max_size=20) | st.binary(min_size=6, max_size=20),
        min_size=1,
        max_size=4,
    )
)
def test_the_encrypted_format_leaks_nothing_readable(payload: dict[str, Any]) -> None:
    token = make("encrypted").seal("cursor", payload)
    raw = base64url.decode(token)
    assert pack(payload) not in raw
    for text in [*payload, *payload.values()]:
        plain = text.encode() if isinstance(text, str) else text
        assert plain not in raw
        assert base64url.encode(plain)[:-1] not in token
        if isinstance(text, str):
            assert text not in token
    signed = base64url.decode(make("signed").seal("cursor", payload))
    assert pack(payload) in signed  # the signed format is tamper-proof, not opaque


# --- limits and errors -------------------------------------------------------------------------


@pytest.mark.parametrize("format_", FORMATS)
def test_over_long_tokens_are_refused_before_any_decoding(
    format_: TokenFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    work: list[str] = []
    codec = TokenCodec(Keyring([OLD], clock=FrozenClock(T0)), format=format_, max_length=200)
    token = codec.seal("cursor", CURSOR)

    def decode(text: str) -> bytes:
        work.append("base64")
        return b""

    def verifying_key(*args: object) -> bytes:
        work.append("key")
        return b""

    monkeypatch.setattr(base64url, "decode", decode)
    monkeypatch.setattr(codec.keyring, "verifying_key", verifying_key)
    for over_long in [token + "A" * (201 - len(token)), "A" * 10_000, "é" * 201, token * 3]:
        error = refused(codec, over_long)
        assert isinstance(error, MalformedToken)
        assert error.reason == "too_long"
    assert refused(codec, token[: MIN_LENGTH - 1]).reason == "too_short"
    assert work == []


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("A" * 37, "bad_encoding"),  # a length no base64 string has (4n + 1)
        ("A" * 38 + "==", "bad_encoding"),
        ("A" * 39 + "é", "bad_encoding"),
        ("A" * 40, "bad_version"),
        ("AgEAAAAA" + "A" * 32, "bad_version"),
        ("AQMAAAAA" + "A" * 32, "bad_format"),
        ("AQEAAAAA" + "A" * 32, "unknown_key"),
    ],
)
def test_malformed_tokens_name_the_reason_internally_only(token: str, reason: str) -> None:
    error = refused(make("signed"), token)
    assert isinstance(error, MalformedToken)
    assert isinstance(error, ShieldError)
    assert error.reason == reason
    assert str(error) == "malformed or tampered token"
    assert reason in repr(error)


def test_an_authentic_but_unreadable_payload_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    codec = make("signed")
    monkeypatch.setattr(codec_module, "pack", lambda payload: b"\xff")
    token = codec.seal("cursor", {})
    assert refused(codec, token).reason == "bad_payload"


def test_seal_refuses_what_could_never_be_unsealed() -> None:
    codec = TokenCodec(Keyring([OLD]), max_length=120)
    with pytest.raises(ValueError, match="payload too large"):
        codec.seal("cursor", {"blob": b"x" * 200})
    with pytest.raises(TypeError, match="cannot pack"):
        codec.seal("cursor", {"ids": object()})
    with pytest.raises(TypeError, match="mapping"):
        codec.seal("cursor", [1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "aes-gcm"}, "token format"),
        ({"accept": ["plain"]}, "token format"),
        ({"max_length": 10}, "max_length"),
    ],
)
def test_bad_codec_configuration_is_a_value_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TokenCodec(Keyring([OLD]), **kwargs)


def test_primitive_cache_is_bounded() -> None:
    codec = TokenCodec(Keyring([OLD]), cache_size=3)
    for n in range(10):
        assert codec.unseal(f"p{n}", codec.seal(f"p{n}", {"n": n})) == {"n": n}
        assert len(codec._primitives) <= 3
        assert len(codec._sealers) <= 3


# --- base64 -------------------------------------------------------------------------------------


@given(st.binary(max_size=80))
def test_base64_round_trip(data: bytes) -> None:
    assert base64url.decode(base64url.encode(data)) == data


@given(st.text(ALPHABET + "=+/ \n.é", max_size=24) | st.binary(max_size=18).map(base64url.encode))
def test_base64_accepts_exactly_the_canonical_spelling(text: str) -> None:
    try:
        canonical = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        canonical = None
    if canonical is None or base64url.encode(canonical) != text:
        with pytest.raises(ValueError, match="base64"):
            base64url.decode(text)
    else:
        assert base64url.decode(text) == canonical


@given(st.binary(max_size=150), st.binary(max_size=200))
def test_the_mac_is_hmac_sha256(key: bytes, message: bytes) -> None:
    assert codec_module._HmacSha256(key).digest(message) == hmac.new(key, message, hashlib.sha256).digest()
