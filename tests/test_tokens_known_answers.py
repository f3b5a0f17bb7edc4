"""Tokens already handed out keep opening, and the same inputs keep giving the same tokens.

Known answers, recorded with the code as it was before the sealing fast paths (HMAC from
ready hash states, pre-packed payloads, cached sealers): a change that alters any of them
changes the token format (or breaks deployed tokens) and needs a new ``VERSION``.
"""

from __future__ import annotations

from typing import Any

import pytest
from clocks import FrozenClock

from shield.tokens import CursorSealer, Keyring, RecordSealer, TokenCodec
from shield.tokens.codec import TokenFormat

T0 = 1_700_000_000.0
ALICE = "api-key:alice"
QUERY = [("limit", "50"), ("sort", "name")]


def codec(format_: TokenFormat) -> TokenCodec:
    return TokenCodec(Keyring([b"k" * 32], clock=FrozenClock(T0), epoch_seconds=3600), format=format_)


@pytest.mark.parametrize(
    ("format_", "token"),
    [
        ("signed", "AQFuSqigAAc0nqNhcBgoYWJCAP9hc2LDqTT8YHvamMm9WyHMTp9-zYc"),
        ("encrypted", "AQJuSqigAAc0ni-fKZAwMJOlIj2o1PCcMr_HcgrbjzisB7aHybt15ao"),
    ],
)
def test_codec(format_: TokenFormat, token: str) -> None:
    payload = {"p": 40, "b": b"\x00\xff", "s": "é"}
    assert codec(format_).seal("cursor", payload) == token
    assert codec(format_).unseal("cursor", token) == payload


@pytest.mark.parametrize(
    ("format_", "raw_id", "token"),
    [
        ("signed", 100042, "AQFuSqigAAc0nqJhaUiFXP4q8YtLomF2GgABhsryjHOuYXgWhgyAsGRBxNeF"),
        ("signed", "u-7", "AQFuSqigAAc0nqJhaUiFXP4q8YtLomF2Y3UtNxC9VZoTi9sctMx0JaXfz-c"),
        ("signed", -5, "AQFuSqigAAc0nqJhaUiFXP4q8YtLomF2JEDPzCnnzuAiuIX_yuZApOI"),
        ("signed", 0, "AQFuSqigAAc0nqJhaUiFXP4q8YtLomF2AB2uGQB9JLFHI4WGUF3u27E"),
        ("signed", 2**70, "AQFuSqigAAc0nqJhaUiFXP4q8YtLomF2wklAAAAAAAAAAABmkk23EYKuZgwTq_fWl5b_"),
        ("encrypted", 100042, "AQJuSqigAAc0nrOfglsadVoJ6RZlFUXTLJ8zmqjGUr1FL8TJ_AYZaBgq5WJY"),
        ("encrypted", "u-7", "AQJuSqigAAc0ng0yDWHo7M0E-SqH-nm8dy44W9H7E_YXlNsTGY-7D1S1tDs"),
        ("encrypted", -5, "AQJuSqigAAc0nkD284F01ztZWd81z6_6QKarFcepFai8mJe0D1F8pbs"),
        ("encrypted", 0, "AQJuSqigAAc0nvoveuMvfIDhc18G_R66RcNPUr5l8NCeA2RTwicGLn0"),
        ("encrypted", 2**70, "AQJuSqigAAc0nuxhKTkt4fJ-c02QBsGHRuUSLUDbfYuS0T7Go-VNNvL9yWW08WnqGowt"),
    ],
)
def test_record_ids(format_: TokenFormat, raw_id: Any, token: str) -> None:
    sealer = RecordSealer(codec(format_))
    assert sealer.seal(ALICE, "user", raw_id) == token
    assert sealer.sealer(ALICE, "user")(raw_id) == token
    assert sealer.unseal(ALICE, "user", token) == raw_id


@pytest.mark.parametrize(
    ("format_", "token"),
    [
        (
            "signed",
            "AQFuSqigAAc0nqhhaUjBb_4O00MzZWFyRjCUTXIpPWFxRgtzO7wnj2FwGQc6YXQaZVPxAGF4GQOEYWMAYWQBW3Qzv7zJNu6nCDW_ng_A9A",
        ),
        (
            "encrypted",
            "AQJuSqigAAc0njniRL9JjIRXFbvw4TGdeM49TBJ1_ed9OVbDXWwC4cjsGA4mkME2bS1bsy4Y51ZBFOh9Op5uXRv3UJ5YIuwDAcJgDsJw5Q",
        ),
    ],
)
def test_cursors(format_: TokenFormat, token: str) -> None:
    sealer = CursorSealer(codec(format_), exclude={"cursor", "offset"}, clock=FrozenClock(T0))
    assert sealer.issue(ALICE, "/users", QUERY, 1850) == token
    assert sealer.open(token, ALICE, "/users", QUERY).position == 1850
