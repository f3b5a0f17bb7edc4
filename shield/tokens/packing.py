"""Compact binary payloads: CBOR (RFC 8949), written and read by cbor2.

Why binary: a typical cursor (an identity hash, a query digest, four timestamps, a position
and a depth) takes ~100 bytes as compact JSON but ~55 as CBOR, which is what keeps a signed
cursor near 110 URL characters. Payloads are decoded only after their tag verified, so the
decoder never sees a client's bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cbor2

__all__ = ["pack", "unpack"]


def pack(payload: Mapping[str, Any]) -> bytes:
    """Encode a payload; ``TypeError`` for values CBOR cannot carry (a server-side bug)."""
    if not isinstance(payload, Mapping):
        raise TypeError(f"payload must be a mapping, got {type(payload).__name__}")
    try:
        return cbor2.dumps(dict(payload))
    except cbor2.CBOREncodeError as exc:
        raise TypeError(f"cannot pack payload: {exc}") from exc


def unpack(data: bytes) -> dict[str, Any]:
    """Decode a payload; ``ValueError`` when it is not one CBOR map."""
    try:
        value = cbor2.loads(data)
    except (cbor2.CBORDecodeError, EOFError) as exc:
        raise ValueError(f"cannot unpack payload: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError("payload is not a map")
    return value
