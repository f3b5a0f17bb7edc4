"""Guarded query parameters: exactly once, spelled exactly as declared, or refused."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shield.errors import RefusedParameter
from shield.queryparams import canonical_name, encode_query, guarded_values, parse_query


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("", {}),
        ("sort=name", {}),
        ("offset=0&sort=name", {"offset": "0"}),
        ("offset=&cursor=abc", {"offset": "", "cursor": "abc"}),
        ("offsets=5", {}),  # another parameter, not a spelling of offset
    ],
)
def test_found(query: str, found: dict[str, str]) -> None:
    assert guarded_values(parse_query(query.encode()), ("offset", "cursor")) == found


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("offset=0&offset=500", "duplicate"),
        ("OFFSET=5", "misspelled"),
        ("offset[]=5", "misspelled"),
        ("offset[x]=5", "misspelled"),
        ("%4Fffset=5", "misspelled"),
        ("offset%5B%5D=5", "misspelled"),
        (" offset=5", "misspelled"),
        ("cursor=a&Cursor=b", "misspelled"),
    ],
)
def test_smuggling_is_refused(query: str, reason: str) -> None:
    with pytest.raises(RefusedParameter) as caught:
        guarded_values(parse_query(query.encode()), ("offset", "cursor"))
    assert caught.value.reason == reason
    assert caught.value.status == 400


names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


@given(st.lists(st.tuples(names, st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)), max_size=6))
def test_whatever_a_lenient_framework_reads_as_offset_is_seen(pairs: list[tuple[str, str]]) -> None:
    """Either the one exact ``offset`` value is found, or the request is refused."""
    lenient = [value for name, value in pairs if canonical_name(name) == "offset"]
    try:
        found = guarded_values(pairs, ("offset",))
    except RefusedParameter:
        assert lenient
        return
    assert found.get("offset") == (lenient[0] if lenient else None)
    assert len(lenient) <= 1


@given(st.lists(st.tuples(names, names), max_size=6))
def test_encode_then_parse_round_trips(pairs: list[tuple[str, str]]) -> None:
    assert parse_query(encode_query(pairs).encode("latin-1")) == pairs


# Mostly the characters that matter to a query string, so both fast paths and both fallbacks run.
query_characters = st.one_of(st.sampled_from("ab=&%+;~-._ 2Fé"), st.characters(blacklist_categories=("Cs",)))


@given(st.text(query_characters, max_size=24))
def test_parse_query_reads_what_parse_qsl_reads(query: str) -> None:
    assert parse_query(query) == parse_qsl(query, keep_blank_values=True)
    latin = query.encode("latin-1", "replace")
    assert parse_query(latin) == parse_qsl(latin.decode("latin-1"), keep_blank_values=True)


@given(st.lists(st.tuples(st.text(query_characters, max_size=8), st.text(query_characters, max_size=8)), max_size=4))
def test_encode_query_writes_what_urlencode_writes(pairs: list[tuple[str, str]]) -> None:
    assert encode_query(pairs) == urlencode(pairs)
    assert encode_query(iter(pairs)) == urlencode(pairs)
