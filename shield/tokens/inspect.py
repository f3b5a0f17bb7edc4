"""What a token is, for operators: which purpose it opens for, its payload, or why it does not open.

Used by ``shield token inspect``. It verifies with the keys of a policy but cannot check the
binding (identity, route, query digests are keyed hashes, by design irreversible): it shows them
as hex so two tokens can be compared.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shield.errors import MalformedToken, TokenError
from shield.tokens.codec import TokenCodec, token_header

__all__ = ["Inspection", "inspect_token"]

_FIELDS = {
    "p": "position",
    "d": "depth",
    "v": "record id",
    "i": "identity digest",
    "r": "route digest",
    "q": "query digest",
    "n": "nonce",
}


@dataclass(frozen=True, slots=True)
class Inspection:
    """``purpose`` is None when no purpose opened it; ``reason`` then says why."""

    purpose: str | None
    reason: str | None
    key_id: str | None
    epoch: int | None
    fields: dict[str, str]


def inspect_token(codec: TokenCodec, token: str, purposes: Iterable[str]) -> Inspection:
    """Try ``token`` under each purpose; the first that opens it wins."""
    try:
        key_id, epoch = token_header(token)
    except (ValueError, struct.error):
        return Inspection(None, "bad_encoding", None, None, {})
    reason = "bad_tag"
    for purpose in purposes:
        try:
            payload = codec.unseal(purpose, token)
        except MalformedToken as exc:
            if exc.reason != "bad_tag":  # the same for every purpose: no need to go on
                return Inspection(None, exc.reason, key_id.hex(), epoch, {})
            continue
        except TokenError as exc:
            return Inspection(None, exc.reason, key_id.hex(), epoch, {})
        return Inspection(purpose, None, key_id.hex(), epoch, _readable(payload))
    return Inspection(None, reason, key_id.hex(), epoch, {})


def _readable(payload: dict[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    issued = payload.get("t")
    for name, value in payload.items():
        if name in ("t", "x", "c"):
            continue
        fields[_FIELDS.get(name, name)] = value.hex() if isinstance(value, bytes) else repr(value)
    if isinstance(issued, int):
        fields["issued at"] = _time(issued)
        if isinstance(payload.get("x"), int):
            fields["expires at"] = _time(issued + payload["x"])
        if isinstance(payload.get("c"), int):
            fields["chain started"] = _time(issued - payload["c"])
    return fields


def _time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()
