"""Keyed digests that bind a token to its holder, keyed by the token's own key epoch.

Cursors and sealed IDs carry digests of who may use them (the identity), where (the route)
and with what (the other query parameters). A signed token is readable, so a plain hash of an
IP address or an API key could be reversed by guessing; the digests are therefore keyed
(BLAKE2b with a key derived like any token key, context ``"digest:<purpose>"``).

The digest key follows the token's header (key id and epoch), not the clock at unseal time:
a token issued just before an epoch boundary, or signed with a key that has since been
demoted, still recomputes the same digests. :meth:`BindingKeys.seal` checks that the token
really carries the epoch its digests used, so a seal that straddles an epoch boundary retries
instead of issuing a token that would never bind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from shield.errors import ShieldError
from shield.tokens.codec import TokenCodec, token_header

__all__ = ["BindingKeys", "keyed_digest"]

_SEAL_ATTEMPTS = 3  # one epoch boundary per seal at most; a third try means a broken clock


def keyed_digest(key: bytes, person: bytes, data: bytes, size: int) -> bytes:
    """BLAKE2b-MAC of ``data``, truncated to ``size`` bytes; ``person`` separates the fields."""
    return hashlib.blake2b(data, digest_size=size, key=key[:64], person=person).digest()


class BindingKeys:
    """The digest key that goes with a token: at seal time the signer's, at unseal the header's."""

    def __init__(self, codec: TokenCodec, purpose: str) -> None:
        self.codec = codec
        self._context = f"digest:{purpose}"

    def seal(self, purpose: str, build: Callable[[bytes], Mapping[str, Any]]) -> str:
        """Seal the payload ``build(digest_key)`` with the key epoch the digest key belongs to."""
        keyring = self.codec.keyring
        for _ in range(_SEAL_ATTEMPTS):
            signing = keyring.signing_key(self._context)
            token = self.codec.seal(purpose, build(signing.key))
            if token_header(token) == (signing.key_id, signing.epoch):
                return token
        raise ShieldError("the clock moved across several key epochs during one seal")

    def for_token(self, token: str) -> bytes:
        """The digest key for a token that the codec has just verified."""
        key_id, epoch = token_header(token)
        return self.codec.keyring.verifying_key(self._context, key_id, epoch)
