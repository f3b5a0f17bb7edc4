"""Keyed digests that bind a token to its holder, keyed by the token's own key epoch.

Cursors and sealed IDs carry digests of who may use them (the identity), where (the route)
and with what (the other query parameters). A signed token is readable, so a plain hash of an
IP address or an API key could be reversed by guessing; the digests are therefore keyed
(BLAKE2b with a key derived like any token key, context ``"digest:<purpose>"``).

The digest key follows the token's header (key id and epoch), not the clock at unseal time:
a token issued just before an epoch boundary, or signed with a key that has since been
demoted, still recomputes the same digests. Sealing pins the token to the digest key's epoch,
so the two always agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from shield.tokens.codec import TokenCodec, token_header
from shield.tokens.packing import pack

__all__ = ["BindingKeys", "keyed_digest"]


def keyed_digest(key: bytes, person: bytes, data: bytes, size: int) -> bytes:
    """BLAKE2b-MAC of ``data``, truncated to ``size`` bytes; ``person`` separates the fields."""
    return hashlib.blake2b(data, digest_size=size, key=key[:64], person=person).digest()


class BindingKeys:
    """The digest key that goes with a token: at seal time the signer's, at unseal the header's."""

    def __init__(self, codec: TokenCodec, purpose: str) -> None:
        self.codec = codec
        self._context = f"digest:{purpose}"

    def seal(self, purpose: str, build: Callable[[bytes], Mapping[str, Any]]) -> str:
        """Seal the payload ``build(digest_key)`` in the key epoch the digest key belongs to."""
        digest_key, seal = self.sealer(purpose)
        return seal(pack(build(digest_key)))

    def sealer(self, purpose: str) -> tuple[bytes, Callable[[bytes], str]]:
        """The digest key and a codec sealer of packed payloads of the same epoch, for many tokens in a row."""
        signing = self.codec.keyring.signing_key(self._context)
        return signing.key, self.codec.packed_sealer(purpose, epoch=signing.epoch)

    def for_token(self, token: str) -> bytes:
        """The digest key for a token that the codec has just verified."""
        key_id, epoch = token_header(token)
        return self.codec.keyring.verifying_key(self._context, key_id, epoch)
