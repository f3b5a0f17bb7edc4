"""Opaque, signed or encrypted, rotating tokens: the keyring and the codec.

Cursor and sealed-ID payloads, and the middleware stages that use them, build on these two.
See ``docs/tokens.md`` for the formats and the key rotation procedure.
"""

from __future__ import annotations

from shield.tokens.codec import FORMATS, TokenCodec, TokenFormat
from shield.tokens.keys import Keyring, MasterKey, SigningKey

__all__ = ["FORMATS", "Keyring", "MasterKey", "SigningKey", "TokenCodec", "TokenFormat"]
