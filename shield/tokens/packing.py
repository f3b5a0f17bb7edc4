"""Compact binary payloads: CBOR (RFC 8949), written and read by cbor2.

Why binary: a typical cursor (an identity hash, a query digest, four timestamps, a position
and a depth) takes ~100 bytes as compact JSON but ~55 as CBOR, which is what keeps a signed
cursor near 110 URL characters. Payloads are decoded only after their tag verified, so the
decoder never sees a client's bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import cbor2

__all__ = ["pack", "packer", "unpack"]

_NULL = b"\xf6"  # CBOR null


def pack(payload: Mapping[str, Any]) -> bytes:
    """Encode a payload; ``TypeError`` for values CBOR cannot carry (a server-side bug)."""
    if type(payload) is not dict:  # the usual case skips the (slow) ABC check and the copy
        if not isinstance(payload, Mapping):
            raise TypeError(f"payload must be a mapping, got {type(payload).__name__}")
        payload = dict(payload)
    try:
        return cbor2.dumps(payload)
    except cbor2.CBOREncodeError as exc:
        raise TypeError(f"cannot pack payload: {exc}") from exc


def packer(fixed: Mapping[str, Any], last: str) -> Callable[[Any], bytes]:
    """``pack({**fixed, last: value})`` for many values in a row, the fixed part encoded once.

    CBOR writes a map's items one after the other, so the bytes are the map with a null in
    ``last`` minus that null's one byte, followed by the value's own encoding: exactly what
    :func:`pack` writes (cbor2 shares no values and references no strings by default).
    """
    if last in fixed:
        raise ValueError(f"{last!r} is one of the fixed keys: it would not be the last item")
    head = pack({**fixed, last: None})[: -len(_NULL)]

    def pack_last(value: Any) -> bytes:
        try:
            return head + cbor2.dumps(value)
        except cbor2.CBOREncodeError as exc:
            raise TypeError(f"cannot pack payload: {exc}") from exc

    return pack_last


def unpack(data: bytes) -> dict[str, Any]:
    """Decode a payload; ``ValueError`` when it is not one CBOR map."""
    try:
        value = cbor2.loads(data)
    except (cbor2.CBORDecodeError, EOFError) as exc:
        raise ValueError(f"cannot unpack payload: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError("payload is not a map")
    return value
