"""Unpadded URL-safe base64 (RFC 4648 §5) with exactly one spelling per byte string.

The standard decoders are lenient: they skip characters outside the alphabet and ignore the
unused low bits of the last character, so ``...Ag`` and ``...Ah`` decode alike. A token that
can be respelled without changing its bytes would survive a "single-character change" and
lets one token pass as many (defeating replay counters keyed on the text), so :func:`decode`
accepts only the canonical spelling: the one :func:`encode` produces.
"""

from __future__ import annotations

import binascii

__all__ = ["decode", "encode"]

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {char: value for value, char in enumerate(_ALPHABET)}
# To the standard alphabet for binascii's strict decoder; "+", "/" and "=" become "!",
# which it refuses, so only the URL-safe spelling gets through.
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_PADDING = (b"", b"", b"==", b"=")
_UNUSED_BITS = (0, 0, 0x0F, 0x03)  # of the last character, by length % 4


def encode(data: bytes) -> str:
    """URL-safe base64 without ``=`` padding."""
    # base64.urlsafe_b64encode, minus its two layers of Python wrappers (every token).
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_TO_URLSAFE).decode("ascii")


def decode(text: str) -> bytes:
    """Inverse of :func:`encode`; ``ValueError`` for any other spelling."""
    rem = len(text) % 4
    if rem == 1:
        raise ValueError("not URL-safe base64: impossible length")
    try:
        data = binascii.a2b_base64(text.encode("ascii").translate(_TO_STANDARD) + _PADDING[rem], strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("not URL-safe base64") from exc
    if text and _VALUE[text[-1]] & _UNUSED_BITS[rem]:
        raise ValueError("not the canonical URL-safe base64 spelling")
    return data
