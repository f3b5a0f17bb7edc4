"""Microseconds per seal and unseal of a typical cursor: signed vs AES-SIV vs Fernet, same run.

    .venv/bin/python -m benchmarks.bench_tokens

Then the layer above the codec, per format: a full cursor issue and open (identity, route and
query digests, expiry, chain and depth checks included) and a sealed record ID's seal and
unseal.

The payload is what a cursor carries (an 8-byte identity hash, route id, 6-byte query digest,
offset, issued-at, expiry, chain start, depth), with the offset varied so no two tokens are
alike. Fernet (AES-128-CBC + HMAC-SHA256, random IV, from ``cryptography``) seals the same
packed bytes, for comparison only: it is not a shield format. Each figure is the best of
several rounds of CPU time; the whole run stays well under 30 s. The issue's target is
<= 10 µs for each of seal and unseal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet

from benchmarks.bench_mask_text import calibrate  # one calibration loop for every benchmark
from benchmarks.timing import per_item_us
from shield.tokens import CursorSealer, Keyring, RecordSealer, TokenCodec
from shield.tokens.packing import pack, unpack

TOKENS = 2000
BUDGET_S = 1.5  # per measurement; 19 measurements
TARGET_US = 10.0


def cursors(n: int) -> list[dict[str, Any]]:
    identity = hashlib.sha256(b"api-key:alice").digest()[:8]
    query = hashlib.sha256(b"limit=50&sort=name").digest()[:6]
    return [
        {"i": identity, "r": 3, "q": query, "p": 50 * k, "t": 1_700_000_000 + k, "x": 1_700_000_900 + k,
         "c": 1_699_999_000, "d": k % 200}
        for k in range(n)
    ]  # fmt: skip


def per_op_us(fn: Callable[[Any], object], items: list[Any]) -> float:
    return per_item_us(fn, items, BUDGET_S)


def main() -> None:
    payloads = cursors(TOKENS)
    keyring = Keyring(["benchmark secret, not for production use!!"], epoch_seconds=3600)
    rows: list[tuple[str, float, float, int]] = []
    for name, codec in [
        ("signed (HMAC-SHA256/128)", TokenCodec(keyring, format="signed")),
        ("encrypted (AES-256-SIV)", TokenCodec(keyring, format="encrypted")),
    ]:
        tokens = [codec.seal("cursor", p) for p in payloads]
        assert all(codec.unseal("cursor", t) == p for t, p in zip(tokens, payloads, strict=True))
        seal = per_op_us(lambda p, c=codec: c.seal("cursor", p), payloads)
        unseal = per_op_us(lambda t, c=codec: c.unseal("cursor", t), tokens)
        rows.append((name, seal, unseal, max(map(len, tokens))))
    fernet = Fernet(Fernet.generate_key())
    fernet_tokens = [fernet.encrypt(pack(p)).decode() for p in payloads]
    assert all(unpack(fernet.decrypt(t)) == p for t, p in zip(fernet_tokens, payloads, strict=True))
    rows.append(
        (
            "Fernet (for comparison)",
            per_op_us(lambda p: fernet.encrypt(pack(p)), payloads),
            per_op_us(lambda t: unpack(fernet.decrypt(t)), fernet_tokens),
            max(map(len, fernet_tokens)),
        )
    )
    packed = [pack(p) for p in payloads]
    pack_us, unpack_us = per_op_us(pack, payloads), per_op_us(unpack, packed)

    print(f"calibration (10 x str(int)): {calibrate():.2f} µs  (idle laptop: ~0.7)")
    print(f"typical cursor payload: {len(packed[0])}-{max(map(len, packed))} bytes packed, {TOKENS} distinct tokens")
    print(f"{'format':<26} {'seal µs':>8} {'unseal µs':>10} {'chars':>6}")
    for name, seal, unseal, chars in rows:
        flag = "" if name.startswith("Fernet") or max(seal, unseal) <= TARGET_US else "  (over target)"
        print(f"{name:<26} {seal:8.2f} {unseal:10.2f} {chars:6d}{flag}")
    print(f"{'  of which pack / unpack':<26} {pack_us:8.2f} {unpack_us:10.2f}")
    print()
    print(f"{'layer (format)':<26} {'seal µs':>8} {'unseal µs':>10} {'chars':>6}")
    for name, seal, unseal, chars in sealers(keyring):
        print(f"{name:<26} {seal:8.2f} {unseal:10.2f} {chars:6d}")


def sealers(keyring: Keyring) -> list[tuple[str, float, float, int]]:
    """Cursor issue/open and record-ID seal/unseal, each format, on typical requests."""
    route, query = "/users/{user_id}/orders", {"sort": "-created", "status": "open", "limit": "50"}
    identity = "api-key:alice"
    rows = []
    for format_ in ("signed", "encrypted"):
        codec = TokenCodec(keyring, format=format_)
        cursor = CursorSealer(codec, ttl=900, chain_ttl=3600, exclude={"cursor", "offset"})
        offsets = [50 * k for k in range(TOKENS)]
        tokens = [cursor.issue(identity, route, query, offset) for offset in offsets]
        assert [cursor.open(t, identity, route, query).position for t in tokens] == offsets
        rows.append(
            (
                f"cursor ({format_})",
                per_op_us(lambda p, c=cursor: c.issue(identity, route, query, p), offsets),
                per_op_us(lambda t, c=cursor: c.open(t, identity, route, query), tokens),
                max(map(len, tokens)),
            )
        )
        records = RecordSealer(codec)
        ids = [100_000 + k for k in range(TOKENS)]
        sealed = [records.seal(identity, "user", i) for i in ids]
        assert [records.unseal(identity, "user", t) for t in sealed] == ids
        rows.append(
            (
                f"record ID ({format_})",
                per_op_us(lambda i, r=records: r.seal(identity, "user", i), ids),
                per_op_us(lambda t, r=records: r.unseal(identity, "user", t), sealed),
                max(map(len, sealed)),
            )
        )
    return rows


if __name__ == "__main__":
    main()
