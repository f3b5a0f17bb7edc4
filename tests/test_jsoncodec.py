"""The JSON codec never corrupts numbers and refuses what is not JSON."""

from __future__ import annotations

import json
import re

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


@given(st.binary(max_size=40) | st.text('eE-+.0123456789 ab"', max_size=40).map(str.encode))
def test_the_shape_prefilter_never_hides_a_tiny_exponent(raw: bytes) -> None:
    shape = raw.translate(jsoncodec._SHAPE_MAP)
    if jsoncodec._TINY_EXPONENT.search(raw):
        assert jsoncodec._TINY_EXPONENT_SHAPE in shape
    assert (jsoncodec._RISKY_RUN in shape) == (re.search(rb"[0-9.]{16}", raw) is not None)


@pytest.mark.parametrize("body", [b'[1e-400, "x"]', b'{"a": "see-123", "n": 1.50}', b"[7E-324]", b"[1e-99]"])
def test_bodies_with_three_digit_negative_exponents_take_the_exact_path(body: bytes) -> None:
    """Anywhere in the body, as before the prefilter: a string alone is enough (1.50 stays 1.50)."""
    exact = b"e-" in body.lower() and jsoncodec._TINY_EXPONENT.search(body) is not None
    assert any(isinstance(n, jsoncodec.RawNumber) for n in _numbers(jsoncodec.loads(body))) is exact


def _numbers(document: object) -> list[object]:
    if isinstance(document, dict):
        return [n for value in document.values() for n in _numbers(value)]
    if isinstance(document, list):
        return [n for value in document for n in _numbers(value)]
    return [document] if not isinstance(document, str) else []
