"""Counting the records a response hands out (``shield/records.py``)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shield import jsoncodec
from shield.records import RecordTally, TallySpec

ITEMS: TallySpec = (("items",), "id")
NESTED: TallySpec = (("data.results",), "id")
AUTOMATIC: TallySpec = ((), "id")

ids = st.one_of(st.integers(-(2**70), 2**70), st.text(min_size=1, max_size=8))
not_ids = st.one_of(st.none(), st.booleans(), st.lists(st.integers(), max_size=2), st.just({"nested": 1}))


def _count(spec: TallySpec, document: Any) -> tuple[int, tuple[str, ...]]:
    tally = RecordTally([spec])
    tally.count(document)
    return tally.counts[spec]


@given(st.lists(ids, max_size=30))
def test_declared_list_counts_every_record_and_each_id_once(record_ids: list[int | str]) -> None:
    document = {"items": [{"id": value, "name": "x"} for value in record_ids], "total": 10**6}
    count, seen = _count(ITEMS, document)
    assert count == len(record_ids)
    assert seen == tuple(dict.fromkeys(str(value) for value in record_ids))


@given(st.lists(st.one_of(ids, not_ids, st.floats(allow_nan=False)), max_size=30))
def test_only_scalar_ids_count_as_text(values: list[Any]) -> None:
    """None, booleans, lists and objects are no ID; any other scalar is one, as its text."""
    document = {"items": [{"id": value} for value in values]}
    expected = [str(value) for value in values if value is not None and type(value) not in (bool, list, dict)]
    assert _count(ITEMS, document) == (len(values), tuple(dict.fromkeys(expected)))


def test_nested_declared_field_and_records_without_ids() -> None:
    document = {"data": {"results": [{"id": 1}, {"id": 1}, {"name": "no id"}, {"id": [2]}, "scalar"]}}
    assert _count(NESTED, document) == (5, ("1",))


def test_automatic_counting() -> None:
    assert _count(AUTOMATIC, [{"id": 1}, {"id": 2}]) == (2, ("1", "2"))
    assert _count(AUTOMATIC, {"users": [{"id": 1}], "groups": [{"id": 9}], "total": 2}) == (2, ("1", "9"))
    assert _count(AUTOMATIC, {"id": 7, "tags": ["a"]}) == (1, ("7",))  # a single object is one record
    assert _count(AUTOMATIC, {}) == (0, ())


def test_tallies_share_compiled_walkers_but_not_counts() -> None:
    """The walkers are built once per set of specs, and carry nothing from one response to the next."""
    first, second = RecordTally([ITEMS, AUTOMATIC]), RecordTally([ITEMS, AUTOMATIC])
    assert first._walkers is second._walkers
    first.count({"items": [{"id": 1}, {"id": 2}]})
    second.count({"items": [{"id": 3}]})
    assert first.counts[ITEMS] == (2, ("1", "2"))
    assert second.counts[ITEMS] == (1, ("3",))
    assert second.counts[AUTOMATIC] == (1, ("3",))


def test_ids_beyond_64_bits_and_decimals_keep_their_exact_text() -> None:
    document = jsoncodec.loads(b'{"items": [{"id": 123456789012345678901234567890}, {"id": 1.10}, {"id": 1.1}]}')
    assert _count(ITEMS, document)[1] == ("123456789012345678901234567890", "1.10", "1.1")
