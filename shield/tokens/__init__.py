"""Opaque, signed or encrypted, rotating tokens: the keyring and the codec.

Cursors (:class:`CursorSealer`) and sealed record IDs (:class:`RecordSealer`) build on these
two; the middleware stages that use them know nothing of the token layout.
See ``docs/tokens.md`` for the formats and the key rotation procedure.
"""

from __future__ import annotations

from shield.tokens.codec import FORMATS, TokenCodec, TokenFormat
from shield.tokens.cursor import Cursor, CursorSealer
from shield.tokens.keys import Keyring, MasterKey, SigningKey
from shield.tokens.records import RecordSealer

__all__ = [
    "FORMATS",
    "Cursor",
    "CursorSealer",
    "Keyring",
    "MasterKey",
    "RecordSealer",
    "SigningKey",
    "TokenCodec",
    "TokenFormat",
]
