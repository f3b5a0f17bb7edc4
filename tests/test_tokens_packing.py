"""The payload encoding: round trips, and clear errors for what it cannot carry."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shield.tokens.packing import pack, packer, unpack

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)
payloads = st.dictionaries(st.text(max_size=8), values, max_size=6)


def same(a: Any, b: Any) -> bool:
    """Equality that also holds for NaN and tells -0.0 from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return a.hex() == b.hex() or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


@given(payloads)
def test_round_trip_keeps_types_and_order(payload: dict[str, Any]) -> None:
    assert same(unpack(pack(payload)), payload)


def test_a_typical_cursor_is_compact() -> None:
    cursor = {"i": b"\x01" * 8, "r": 3, "q": b"\x02" * 8, "o": 1850, "t": 1764120000, "e": 1764120900, "d": 37}
    assert len(pack(cursor)) < 64


def test_unsupported_values_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="cannot pack"):
        pack({"x": object()})


@pytest.mark.parametrize("data", [b"", b"\xff", b"\x18", b"\x01", b"\x82\x01\x02"])
def test_anything_but_one_map_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="payload"):
        unpack(data)


@given(st.dictionaries(st.text(max_size=4), values, max_size=3), values)
def test_a_packer_writes_what_pack_writes(fixed: dict[str, Any], value: Any) -> None:
    fixed.pop("v", None)
    assert packer(fixed, "v")(value) == pack({**fixed, "v": value})


def test_a_packer_refuses_a_last_key_among_the_fixed_and_what_cbor_cannot_carry() -> None:
    with pytest.raises(ValueError, match="fixed keys"):
        packer({"v": 1}, "v")
    with pytest.raises(TypeError, match="cannot pack"):
        packer({}, "v")(object())
