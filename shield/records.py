"""Counting the records a response would hand out, before anything else touches it.

Record and distinct-record quotas charge what actually leaks: the items in the response's
declared list fields (``items``, ``data.results``), or, without a declaration, the items of a
top-level list or of the lists of objects directly under a top-level object (a single object is
one record). Counting runs on the raw document, before masking or sealing rewrites any ID.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from shield.fieldwalk import FieldRewriter
from shield.jsoncodec import RawNumber

__all__ = ["RecordCount", "RecordTally", "TallySpec"]

# (declared list fields, the key that holds a record's ID)
TallySpec = tuple[tuple[str, ...], str]
RecordCount = tuple[int, tuple[str, ...]]  # (how many records, their distinct IDs)
_RECORDS = "records"


class RecordTally:
    """One response's record counts, for each way the route's quotas count them."""

    __slots__ = ("_walkers", "counts")

    def __init__(self, specs: Sequence[TallySpec]) -> None:
        self._walkers = _walkers(tuple(specs))
        self.counts: dict[TallySpec, RecordCount] = {}

    def count(self, document: Any) -> None:
        for spec, walker in self._walkers:
            records = _automatic(document) if walker is None else _declared(walker, document)
            self.counts[spec] = (len(records), _ids(records, spec[1]))


@lru_cache(maxsize=256)
def _walkers(specs: tuple[TallySpec, ...]) -> tuple[tuple[TallySpec, FieldRewriter | None], ...]:
    """Each spec's compiled walker (None: counted automatically), built once, not per response.

    The specs come from the policy's quotas, so few combinations ever occur; a walker keeps no
    state of one document and never awaits, so every request may share it.
    """
    return tuple((spec, FieldRewriter([(path, _RECORDS) for path in spec[0]]) if spec[0] else None) for spec in specs)


def _declared(walker: FieldRewriter, document: Any) -> list[Any]:
    records: list[Any] = []

    def collect(action: str, value: Any) -> Any:
        records.extend(value if type(value) is list else [value])
        return value

    walker.rewrite(document, collect)
    return records


def _automatic(document: Any) -> list[Any]:
    if type(document) is list:
        return document
    if type(document) is not dict or not document:
        return []
    lists = [value for value in document.values() if type(value) is list and value and type(value[0]) is dict]
    if not lists:
        return [document]
    return [item for value in lists for item in value]


_NOT_IDS = (dict, list, bool, type(None))


def _ids(records: list[Any], id_field: str) -> tuple[str, ...]:
    """Each record's ID as text, once, in order; records without a scalar ID have none.

    The common kinds are tested first, by identity: this runs for every record of a page.
    """
    found: dict[str, None] = {}
    for record in records:
        if type(record) is dict:
            value: Any = record.get(id_field)
            kind = type(value)
            if kind is str:
                found[value] = None
            elif kind is int:
                found[str(value)] = None
            elif kind is RawNumber:
                found[value.text] = None
            elif kind not in _NOT_IDS:
                found[str(value)] = None
    return tuple(found)
