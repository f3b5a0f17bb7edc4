"""Keyring: key ids, HKDF derivation per context and epoch, rotation windows, the bounded cache."""

from __future__ import annotations

import hashlib
import hmac
import math

import pytest
from clocks import FrozenClock
from hypothesis import given
from hypothesis import strategies as st

import shield.tokens.keys as keys_module
from shield.errors import ExpiredToken, MalformedToken, ShieldError, TokenError
from shield.tokens.keys import KEY_ID_BYTES, Keyring, MasterKey, derive_key

OLD = b"o" * 32
NEW = b"n" * 40
NEWER = "a-token_urlsafe(32)-secret-is-43-chars-long"  # what `shield keys generate` prints
EPOCH = 3600.0
T0 = 1_700_000_000.0

secrets_ = st.binary(min_size=32, max_size=64)
contexts = st.text(st.characters(codec="utf-8"), min_size=1, max_size=60)
epochs = st.integers(0, 2**32 - 1)


def hkdf_sha256(secret: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 written out with hmac: an independent oracle for derive_key."""
    prk = hmac.digest(b"\x00" * 32, secret, "sha256")
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.digest(prk, block + info + bytes([counter]), "sha256")
        okm += block
    return okm[:length]


def ring(*secrets: bytes | str, clock: FrozenClock | None = None, **options: float) -> Keyring:
    return Keyring(list(secrets), clock=clock or FrozenClock(T0), epoch_seconds=EPOCH, **options)  # type: ignore[arg-type]


# --- master keys --------------------------------------------------------------------------------


def test_key_id_is_a_labelled_hash_prefix_of_the_secret() -> None:
    master = MasterKey.from_secret(OLD)
    assert master.key_id == hashlib.sha256(b"shield key id\x00" + OLD).digest()[:KEY_ID_BYTES]
    assert master.hex_id == master.key_id.hex()
    assert len(master.hex_id) == 8


def test_text_secrets_are_their_utf8_bytes_and_never_shown() -> None:
    assert MasterKey.from_secret(NEWER) == MasterKey.from_secret(NEWER.encode())
    assert NEWER not in repr(MasterKey.from_secret(NEWER))


@pytest.mark.parametrize("secret", [b"", b"x" * 31, "y" * 31])
def test_short_secrets_are_refused(secret: bytes | str) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        MasterKey.from_secret(secret)


@given(st.lists(secrets_, min_size=2, max_size=8, unique=True))
def test_distinct_secrets_get_distinct_ids(secrets: list[bytes]) -> None:
    assert len(set(Keyring(secrets).key_ids)) == len(secrets)


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secrets": []}, "at least one secret"),
        ({"secrets": OLD}, "lists of secrets"),
        ({"secrets": "a single text secret of 32+ bytes!!"}, "lists of secrets"),
        ({"secrets": [OLD], "pending": NEW}, "lists of secrets"),
        ({"secrets": [OLD, OLD]}, "same secret twice"),
        ({"secrets": [OLD], "pending": [OLD]}, "same secret twice"),
        ({"secrets": [OLD], "epoch_seconds": 0.5}, "epoch_seconds"),
        ({"secrets": [OLD], "epoch_seconds": math.nan}, "epoch_seconds"),
        ({"secrets": [OLD], "epoch_seconds": 60, "max_skew": 60}, "max_skew"),
        ({"secrets": [OLD], "max_skew": -1}, "max_skew"),
        ({"secrets": [OLD], "cache_size": 0}, "cache_size"),
    ],
)
def test_bad_configuration_is_a_value_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Keyring(**kwargs)  # type: ignore[arg-type]


def test_the_last_secret_signs_and_pending_ones_only_verify() -> None:
    keyring = Keyring([OLD, NEW], pending=[NEWER])
    assert keyring.signer == MasterKey.from_secret(NEW)
    assert keyring.key_ids == tuple(MasterKey.from_secret(s).hex_id for s in (OLD, NEW, NEWER))


# --- derivation ---------------------------------------------------------------------------------


@given(secrets_, contexts, epochs)
def test_derive_key_is_hkdf_sha256_with_context_and_epoch_in_info(secret: bytes, context: str, epoch: int) -> None:
    raw = context.encode()
    info = b"shield token key v1" + bytes([len(raw)]) + raw + epoch.to_bytes(8, "big")
    assert derive_key(secret, context, epoch) == hkdf_sha256(secret, info, 64)


@given(st.tuples(secrets_, contexts, epochs), st.tuples(secrets_, contexts, epochs))
def test_keys_differ_by_master_context_and_epoch(a: tuple[bytes, str, int], b: tuple[bytes, str, int]) -> None:
    assert (derive_key(*a) == derive_key(*b)) == (a == b)


@pytest.mark.parametrize("context", ["", "x" * 256, "é" * 128])
def test_context_must_fit_its_length_prefix(context: str) -> None:
    with pytest.raises(ValueError, match="1-255 bytes"):
        derive_key(OLD, context, 1)


@given(st.floats(0, 4e9), st.sampled_from([1.0, 60.0, 3600.0, 86400.0]))
def test_workers_sharing_secrets_and_time_rotate_in_step(now: float, epoch_seconds: float) -> None:
    clock = FrozenClock(now)
    worker_a = Keyring([OLD, NEW], clock=clock, epoch_seconds=epoch_seconds, max_skew=0)
    worker_b = Keyring([OLD, NEW], clock=clock, epoch_seconds=epoch_seconds, max_skew=0)
    signing = worker_a.signing_key("signed:cursor")
    assert signing.epoch == math.floor(now / epoch_seconds)
    assert signing == worker_b.signing_key("signed:cursor")
    assert worker_b.verifying_key("signed:cursor", signing.key_id, signing.epoch) == signing.key


def test_signing_refuses_a_clock_tokens_cannot_encode() -> None:
    clock = FrozenClock(-1.0)
    keyring = ring(OLD, clock=clock)
    with pytest.raises(ValueError, match="outside the range"):
        keyring.signing_key("signed:cursor")
    clock.now = (2**32) * EPOCH
    with pytest.raises(ValueError, match="outside the range"):
        keyring.signing_key("signed:cursor")


# --- verification windows -----------------------------------------------------------------------


def test_unknown_key_id_is_malformed() -> None:
    keyring = ring(OLD)
    retired = MasterKey.from_secret(NEW).key_id
    with pytest.raises(MalformedToken) as caught:
        keyring.verifying_key("signed:cursor", retired, keyring.current_epoch())
    assert caught.value.reason == "unknown_key"


@given(st.floats(6 * EPOCH, 1e9), st.integers(-5, 5))
def test_current_and_previous_epoch_verify_older_expire_newer_are_refused(now: float, delta: int) -> None:
    keyring = ring(OLD, clock=FrozenClock(now), max_skew=0)
    key_id, epoch = keyring.signer.key_id, keyring.current_epoch() + delta
    if delta in (-1, 0):
        assert keyring.verifying_key("c", key_id, epoch) == derive_key(OLD, "c", epoch)
        return
    with pytest.raises(TokenError) as caught:
        keyring.verifying_key("c", key_id, epoch)
    if delta < -1:
        assert type(caught.value) is ExpiredToken
        assert caught.value.reason == "stale_epoch"
    else:
        assert type(caught.value) is MalformedToken
        assert caught.value.reason == "future_epoch"
    assert isinstance(caught.value, ShieldError)


def test_the_next_epoch_is_accepted_only_within_the_skew_allowance() -> None:
    boundary = (T0 // EPOCH + 1) * EPOCH
    clock = FrozenClock(boundary - 5.0)
    keyring = ring(OLD, clock=clock, max_skew=5.0)
    next_epoch = keyring.current_epoch() + 1
    assert keyring.verifying_key("c", keyring.signer.key_id, next_epoch)
    clock.now = boundary - 5.001
    with pytest.raises(MalformedToken, match="malformed"):
        keyring.verifying_key("c", keyring.signer.key_id, next_epoch)


# --- cache ----------------------------------------------------------------------------------------


def test_derived_keys_are_cached_and_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int]] = []

    def counting(secret: bytes, context: str, epoch: int) -> bytes:
        calls.append((context, epoch))
        return derive_key(secret, context, epoch)

    monkeypatch.setattr(keys_module, "derive_key", counting)
    clock = FrozenClock(T0)
    keyring = Keyring([OLD], clock=clock, epoch_seconds=EPOCH, cache_size=4)
    first = keyring.signing_key("signed:cursor")
    assert keyring.signing_key("signed:cursor").key is first.key
    assert len(calls) == 1
    for n in range(20):
        keyring.signing_key(f"signed:purpose-{n}")
        assert len(keyring._cache) <= 4
    clock.advance(EPOCH)
    assert keyring.signing_key("signed:cursor").epoch == first.epoch + 1
    assert calls[-1] == ("signed:cursor", first.epoch + 1)
