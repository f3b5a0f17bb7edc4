"""Master secrets, their key ids, and the per-epoch keys derived from them.

A :class:`Keyring` holds a list of master secrets: the last one signs (itsdangerous' order:
append the newest), every one verifies, and ``pending`` secrets verify without ever signing so
a new key can reach every worker before any worker uses it. Each master has a 4-byte key id
that travels in the token header, so verification derives exactly one key — never a trial over
the whole ring, which would turn every forged token into N MACs.

On top of that, keys rotate by themselves: time is cut into epochs of ``epoch_seconds`` and
the key for (master, context, epoch) is HKDF-SHA256 of the master with the context and epoch
in ``info``. Workers share nothing but the secrets and a wall clock, yet they all switch keys
at the same instant. Tokens from the current and the previous epoch are accepted (plus the next
one within ``max_skew`` seconds of its start, for workers whose clocks run slightly ahead).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shield.clock import Clock, system_clock
from shield.errors import ExpiredToken, MalformedToken

__all__ = [
    "DERIVED_KEY_BYTES",
    "KEY_ID_BYTES",
    "MAX_EPOCH",
    "MIN_SECRET_BYTES",
    "Keyring",
    "MasterKey",
    "SigningKey",
    "derive_key",
]

MIN_SECRET_BYTES = 32
KEY_ID_BYTES = 4
DERIVED_KEY_BYTES = 64  # AES-256-SIV takes 512 bits; HMAC-SHA256 takes a 64-byte key as is
MAX_EPOCH = 2**32 - 1  # the header stores the epoch in four bytes
_KDF_LABEL = b"shield token key v1"


@dataclass(frozen=True, slots=True)
class MasterKey:
    """One master secret and its id: the first bytes of a labelled hash of the secret.

    The id is derived, not configured, so it cannot drift between workers; four bytes of a hash
    of a >= 256-bit secret reveal nothing usable about it.
    """

    key_id: bytes
    secret: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, secret: bytes | str) -> MasterKey:
        raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if len(raw) < MIN_SECRET_BYTES:
            raise ValueError(f"a token secret needs at least {MIN_SECRET_BYTES} bytes, got {len(raw)}")
        key_id = hashlib.sha256(b"shield key id\x00" + raw).digest()[:KEY_ID_BYTES]
        return cls(key_id=key_id, secret=raw)

    @property
    def hex_id(self) -> str:
        """The key id as logs and docs spell it (``"3fa2c1d0"``)."""
        return self.key_id.hex()


class SigningKey(NamedTuple):
    """What a token is sealed with now: the header fields and the derived key bytes."""

    key_id: bytes
    epoch: int
    key: bytes


class Keyring:
    """Master secrets plus clock-driven epoch rotation; see the module docstring.

    >>> ring = Keyring(["old secret " * 4, "new secret " * 4], epoch_seconds=3600)
    >>> ring.signer.hex_id == MasterKey.from_secret("new secret " * 4).hex_id
    True
    """

    def __init__(
        self,
        secrets: Sequence[bytes | str],
        *,
        pending: Sequence[bytes | str] = (),
        epoch_seconds: float = 3600.0,
        max_skew: float = 5.0,
        clock: Clock = system_clock,
        cache_size: int = 256,
    ) -> None:
        if isinstance(secrets, bytes | str) or isinstance(pending, bytes | str):
            raise ValueError("secrets and pending are lists of secrets, not a single secret")
        if not secrets:
            raise ValueError("a keyring needs at least one secret")
        if not epoch_seconds >= 1:  # also refuses NaN
            raise ValueError(f"epoch_seconds must be at least 1, got {epoch_seconds}")
        if not 0 <= max_skew < epoch_seconds:
            raise ValueError(f"max_skew must be in [0, epoch_seconds), got {max_skew}")
        if cache_size < 1:
            raise ValueError(f"cache_size must be positive, got {cache_size}")
        masters = [MasterKey.from_secret(secret) for secret in [*secrets, *pending]]
        self._by_id = {master.key_id: master for master in masters}
        if len(self._by_id) != len(masters):
            raise ValueError("the keyring holds the same secret twice (or two secrets share a key id)")
        self.signer = masters[len(secrets) - 1]
        self.epoch_seconds = float(epoch_seconds)
        self.max_skew = float(max_skew)
        self._clock = clock
        self._cache: dict[tuple[bytes, str, int], bytes] = {}
        self._cache_size = cache_size

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Hex ids of every key that verifies, in configuration order."""
        return tuple(master.hex_id for master in self._by_id.values())

    def epoch_at(self, now: float) -> int:
        """The epoch number that contains Unix time ``now``."""
        return int(now // self.epoch_seconds)

    def current_epoch(self) -> int:
        return self.epoch_at(self._clock())

    def signing_key(self, context: str, epoch: int | None = None) -> SigningKey:
        """The signer's key for ``context`` in the current epoch (or in ``epoch``: one token's keys agree)."""
        if epoch is None:
            epoch = self.current_epoch()
        if not 0 <= epoch <= MAX_EPOCH:
            raise ValueError(f"the clock is outside the range tokens can encode (epoch {epoch})")
        return SigningKey(self.signer.key_id, epoch, self._derived(self.signer, context, epoch))

    def verifying_key(self, context: str, key_id: bytes, epoch: int) -> bytes:
        """The one key a token with this header may verify under, or a :class:`TokenError`.

        Unknown key id: :class:`MalformedToken` (``unknown_key``). An epoch before the previous
        one: :class:`ExpiredToken` (``stale_epoch``), judged from the header alone, which is no
        oracle since the epoch is readable by anyone. An epoch in the future beyond the skew
        allowance: :class:`MalformedToken` (``future_epoch``).
        """
        master = self._by_id.get(key_id)
        if master is None:
            raise MalformedToken("unknown_key")
        now = self._clock()
        if epoch < self.epoch_at(now) - 1:
            raise ExpiredToken("stale_epoch")
        if epoch > self.epoch_at(now + self.max_skew):
            raise MalformedToken("future_epoch")
        return self._derived(master, context, epoch)

    def _derived(self, master: MasterKey, context: str, epoch: int) -> bytes:
        # Only header fields that passed the checks above reach this, so an attacker cannot
        # fill the cache; the bound is a backstop. Clearing when full (instead of LRU order)
        # keeps it a plain dict, safe to share between threads.
        slot = (master.key_id, context, epoch)
        key = self._cache.get(slot)
        if key is None:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            key = self._cache[slot] = derive_key(master.secret, context, epoch)
        return key


def derive_key(secret: bytes, context: str, epoch: int) -> bytes:
    """HKDF-SHA256(secret, info = label || len(context) || context || epoch): one key per use and epoch.

    The context (token format and purpose, e.g. ``"signed:cursor"``) is length-prefixed so no
    two (context, epoch) pairs share an ``info``.
    """
    raw = context.encode("utf-8")
    if not 0 < len(raw) < 256:
        raise ValueError(f"a key context must be 1-255 bytes, got {context!r}")
    info = _KDF_LABEL + bytes([len(raw)]) + raw + epoch.to_bytes(8, "big")
    return HKDF(algorithm=hashes.SHA256(), length=DERIVED_KEY_BYTES, salt=None, info=info).derive(secret)
