"""Seal a small mapping into a URL-safe token and open it again, signed or encrypted.

Layout, before unpadded URL-safe base64::

    version (1) | format (1) | key id (4) | epoch (4, big-endian) | body

    signed:     body = payload || HMAC-SHA256(key, header || payload)[:16]
    encrypted:  body = AES-SIV(key).encrypt(payload, associated_data=[header])   (16-byte SIV || ciphertext)

The payload is :mod:`~shield.tokens.packing` (CBOR via cbor2). The key is derived per format,
purpose and epoch by the :class:`~shield.tokens.keys.Keyring`, so a cursor never opens as a
record ID and a signed token never as an encrypted one. The header is authenticated in both
formats. Both formats are deterministic: the same payload, purpose and epoch give the same token.

Why AES-SIV (RFC 5297) for the encrypted format: it needs no nonce, so there is nothing to wear
out. AES-GCM with random 96-bit nonces must stop near 2**32 messages per key (NIST SP 800-38D),
because one repeated nonce leaks the XOR of two plaintexts and the GHASH key, i.e. forgeries; a
busy API can issue that many cursors. SIV's only leak on repetition is that two equal payloads
give equal tokens, which sealed record IDs want anyway.

Unsealing does the cheap checks first and decodes nothing unauthenticated: length (before any
decoding), base64, header, key id and epoch, then exactly one MAC or decryption, compared in
constant time, and only then the payload.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from shield.errors import MalformedToken
from shield.tokens import base64url
from shield.tokens.keys import Keyring, SigningKey
from shield.tokens.packing import pack, unpack

__all__ = ["DEFAULT_MAX_LENGTH", "FORMATS", "MIN_LENGTH", "VERSION", "TokenCodec", "TokenFormat", "token_header"]

TokenFormat: TypeAlias = Literal["signed", "encrypted"]
FORMATS: tuple[TokenFormat, ...] = ("signed", "encrypted")
DEFAULT_MAX_LENGTH = 512

VERSION = 1
_FORMAT_CODES: dict[TokenFormat, int] = {"signed": 1, "encrypted": 2}
_HEADER = struct.Struct(">BB4sI")
_TAG_BYTES = 16  # HMAC-SHA256 truncated to 128 bits (RFC 2104 §5); AES-SIV's tag is 128 bits too
_EMPTY_MAP_BYTES = 1
# Base64 length of the smallest possible token: header, an empty map, a tag.
MIN_LENGTH = -(-(_HEADER.size + _EMPTY_MAP_BYTES + _TAG_BYTES) * 4 // 3)

# Byte i XOR 0x36 / 0x5C: the RFC 2104 pads, applied to a whole key by bytes.translate.
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))
_SHA256_BLOCK = 64


class _HmacSha256:
    """HMAC-SHA256 (RFC 2104) with the key's two padded blocks hashed once.

    The same MAC as ``hmac.new(key, msg, "sha256")``, built from hashlib's C hash states:
    ``hmac.HMAC``'s copy, update and digest are Python wrappers that cost more than the
    hashing itself, and a response may seal dozens of IDs.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\x00")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_Primitive: TypeAlias = _HmacSha256 | AESSIV
# Base64 characters that hold the whole header (16 chars = 12 bytes >= the 10-byte header).
_HEADER_CHARS = -(-_HEADER.size // 3) * 4


def token_header(token: str) -> tuple[bytes, int]:
    """Key id and epoch of a token that already passed :meth:`TokenCodec.unseal` (or was just sealed)."""
    _, _, key_id, epoch = _HEADER.unpack_from(base64url.decode(token[:_HEADER_CHARS]))
    return key_id, epoch


class TokenCodec:
    """Seals payloads for a purpose (``"cursor"``, ``"record-id"``…) with a keyring's current key.

    >>> codec = TokenCodec(Keyring(["a secret of at least 32 bytes......"]))
    >>> codec.unseal("cursor", codec.seal("cursor", {"p": 40}))
    {'p': 40}

    ``accept`` lists the formats :meth:`unseal` takes (default: only ``format``), so a
    deployment can switch formats without failing the tokens already handed out.
    """

    def __init__(
        self,
        keyring: Keyring,
        *,
        format: TokenFormat = "signed",  # shadows the builtin on purpose: the policy calls it "format"
        accept: Iterable[TokenFormat] | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        cache_size: int = 256,
    ) -> None:
        accepted = (format,) if accept is None else tuple(accept)
        for name in (format, *accepted):
            if name not in _FORMAT_CODES:
                raise ValueError(f"token format must be one of {FORMATS}, got {name!r}")
        if max_length < MIN_LENGTH:
            raise ValueError(f"max_length must be at least {MIN_LENGTH}, got {max_length}")
        self.keyring = keyring
        self.format: TokenFormat = format
        self.max_length = max_length
        self._code = _FORMAT_CODES[format]
        self._accepted = {_FORMAT_CODES[name]: name for name in accepted}
        # Ready-keyed HMAC states and AES-SIV objects, by derived key (the keyring hands out
        # the same bytes object per key, whose hash Python caches). Building one costs several
        # times the MAC itself. Cleared when full, like the keyring's cache. The sealers built
        # on them (header, primitive, closures) are kept by signing key the same way: the rest
        # of what they hold (format, max_length) is fixed per codec.
        self._primitives: dict[bytes, _Primitive] = {}
        self._sealers: dict[SigningKey, Callable[[bytes], str]] = {}
        self._cache_size = cache_size

    def seal(self, purpose: str, payload: Mapping[str, Any], *, epoch: int | None = None) -> str:
        """A token for ``payload`` that only :meth:`unseal` with the same purpose opens.

        ``epoch`` pins the key epoch (default: the current one). ``TypeError``/``ValueError``
        when the payload cannot be packed or the token would exceed ``max_length`` (a
        server-side bug: it could never be unsealed).
        """
        return self.sealer(purpose, epoch=epoch)(payload)

    def sealer(self, purpose: str, *, epoch: int | None = None) -> Callable[[Mapping[str, Any]], str]:
        """:meth:`seal` with the key, header and MAC state prepared once: for many tokens in a row.

        Holds one key epoch: use it for one response's tokens, not across requests.
        """
        seal_packed = self.packed_sealer(purpose, epoch=epoch)

        def seal(payload: Mapping[str, Any]) -> str:
            return seal_packed(pack(payload))

        return seal

    def packed_sealer(self, purpose: str, *, epoch: int | None = None) -> Callable[[bytes], str]:
        """:meth:`sealer` for payloads already packed (:mod:`~shield.tokens.packing`).

        For callers that pack many payloads of one shape faster than a mapping each (sealed
        record IDs). Holds one key epoch, like :meth:`sealer`.
        """
        signing = self.keyring.signing_key(f"{self.format}:{purpose}", epoch)
        seal = self._sealers.get(signing)
        if seal is None:
            if len(self._sealers) >= self._cache_size:
                self._sealers.clear()
            seal = self._sealers[signing] = self._build_sealer(signing)
        return seal

    def _build_sealer(self, signing: SigningKey) -> Callable[[bytes], str]:
        header = _HEADER.pack(VERSION, self._code, signing.key_id, signing.epoch)
        primitive = self._primitive(self.format, signing.key)
        max_length = self.max_length

        if isinstance(primitive, AESSIV):
            siv = primitive

            def protect(body: bytes) -> bytes:
                return header + siv.encrypt(body, [header])

        else:
            mac = primitive

            def protect(body: bytes) -> bytes:
                signed = header + body
                return signed + mac.digest(signed)[:_TAG_BYTES]

        def seal(body: bytes) -> str:
            token = base64url.encode(protect(body))
            if len(token) > max_length:
                raise ValueError(f"payload too large: the token would be {len(token)} > {max_length} characters")
            return token

        return seal

    def unseal(self, purpose: str, token: str) -> dict[str, Any]:
        """The payload sealed in ``token`` for ``purpose``, or a :class:`~shield.errors.TokenError`.

        The error's message is generic; its ``reason`` says which check failed, for logs.
        """
        if len(token) > self.max_length:
            raise MalformedToken("too_long")
        if len(token) < MIN_LENGTH:
            raise MalformedToken("too_short")
        try:
            raw = base64url.decode(token)
        except ValueError as exc:
            raise MalformedToken("bad_encoding") from exc
        version, code, key_id, epoch = _HEADER.unpack_from(raw)
        if version != VERSION:
            raise MalformedToken("bad_version")
        format_ = self._accepted.get(code)
        if format_ is None:
            raise MalformedToken("bad_format")
        key = self.keyring.verifying_key(f"{format_}:{purpose}", key_id, epoch)
        primitive = self._primitive(format_, key)
        if isinstance(primitive, AESSIV):
            header = raw[: _HEADER.size]
            try:
                payload = primitive.decrypt(raw[_HEADER.size :], [header])
            except InvalidTag as exc:
                raise MalformedToken("bad_tag") from exc
        else:
            signed, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
            if not hmac.compare_digest(primitive.digest(signed)[:_TAG_BYTES], tag):
                raise MalformedToken("bad_tag")
            payload = signed[_HEADER.size :]
        try:
            return unpack(payload)
        except ValueError as exc:  # authentic yet unreadable: a bug or a leaked key, never a client's doing
            raise MalformedToken("bad_payload") from exc

    def _primitive(self, format_: TokenFormat, key: bytes) -> _Primitive:
        primitive = self._primitives.get(key)
        if primitive is None:
            if len(self._primitives) >= self._cache_size:
                self._primitives.clear()
            primitive = AESSIV(key) if format_ == "encrypted" else _HmacSha256(key)
            self._primitives[key] = primitive
        return primitive
