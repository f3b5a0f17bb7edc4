"""The JSON codec never corrupts numbers and refuses what is not JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shield import jsoncodec


@pytest.mark.parametrize(
    "number",
    [
        "123456789012345678901234567890",
        "-18446744073709551617",
        "3.141592653589793238462643383279",
        "12345678901234567.89",
        "1e400",
        "0.1000000000000000055511151231257827",
    ],
)
def test_numbers_survive_exactly(number: str) -> None:
    body = f'{{"n": {number}, "s": "x"}}'.encode()
    assert jsoncodec.dumps(jsoncodec.loads(body)) == f'{{"n":{number},"s":"x"}}'.encode()


@given(st.integers(min_value=-(10**40), max_value=10**40))
def test_any_integer_round_trips(number: int) -> None:
    assert json.loads(jsoncodec.dumps(jsoncodec.loads(json.dumps([number])))) == [number]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_float_keeps_its_value(number: float) -> None:
    assert json.loads(jsoncodec.dumps(jsoncodec.loads(json.dumps([number])))) == [number]


@pytest.mark.parametrize("bad", [b"{", b"[NaN]", b"[Infinity]", b"\xff\xfe", b"[1,]", b"[" * 100_000])
def test_malformed_bodies_are_refused(bad: bytes) -> None:
    with pytest.raises(jsoncodec.MalformedJSON):
        jsoncodec.loads(bad)


def test_lone_surrogate_cannot_be_reencoded() -> None:
    document = jsoncodec.loads(b'["\\ud800", 12345678901234567890123]')
    with pytest.raises(jsoncodec.MalformedJSON):
        jsoncodec.dumps(document)
