"""Masking a parsed JSON document in place: field rules plus free-text detection.

One walk applies everything: a field rule (by key name or path) decides a value's fate
first; every other string is searched for personal data, and integers are checked for
phone numbers. The walk counts what it changed so an untouched body can go out
byte-identical.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from shield.jsoncodec import RawNumber
from shield.masking.detectors import TIMESTAMP, TIMESTAMP_LENGTHS
from shield.masking.maskers import MASKERS, make_hasher
from shield.masking.paths import DEAD, FieldMatcher
from shield.masking.text import PHONE_INTEGERS, mask_integer, mask_text, mask_texts

__all__ = ["DROP", "DocumentMasker"]

DROP = "drop"
_MAX_CACHED_KEYS = 4096
Masker = Callable[[str], str]
_is_timestamp = TIMESTAMP.fullmatch
_Entry = tuple[int, Masker | None, str | None, str]  # next state, masker, masked key, kind for metrics


class DocumentMasker:
    """Compiled masking for one set of rules; safe to share between requests.

    The walk is the hot path of every inspected response, so each key costs one dict
    lookup: per automaton state, a key maps to (next state, its rule's masker, the key
    masked, the masker's kind), computed once and cached (bounded) since the same keys recur
    in every record.
    """

    __slots__ = ("_entries", "_free_text", "_integers", "_kinds", "_maskers", "_matcher", "_owner_field")

    def __init__(
        self,
        rules: Sequence[tuple[str, str]],
        *,
        free_text: bool = True,
        integers: bool = True,
        owner_field: str | None = None,
        hash_key: bytes | None = None,
    ) -> None:
        """``rules`` are (field path, masker kind) pairs; the first match wins."""
        self._matcher = FieldMatcher(rules)
        self._maskers: dict[str, Masker] = {**MASKERS, DROP: _drop}
        if hash_key is not None:
            self._maskers["hash"] = make_hasher(hash_key)
        for _, kind in rules:
            if kind not in self._maskers:
                raise ValueError(f"masker {kind!r} is unknown or needs a key that was not given")
        self._kinds = {masker: kind for kind, masker in self._maskers.items()}  # for metrics
        self._free_text = free_text
        self._integers = integers
        self._owner_field = owner_field
        self._entries: list[dict[str, _Entry]] = []  # per state; grown by ``_entry`` as states appear
        self._grow_entries(self._matcher.start)

    def mask(
        self, document: Any, *, viewer_id: str | None = None, reveal: bool = False, tally: Counter[str] | None = None
    ) -> tuple[Any, int]:
        """Mask ``document`` in place; return it (a bare scalar may be replaced) and the change count.

        ``viewer_id`` unmasks the direct fields of records whose owner field equals it;
        ``reveal`` (a privileged role) leaves values in clear but still drops fields. ``tally``
        counts the values masked, by kind (for metrics).
        """
        if type(document) is dict or type(document) is list:
            batch = _Batch(tally)
            walk = self._dict if type(document) is dict else self._list
            changes = walk(document, self._matcher.start, viewer_id, reveal, batch)  # type: ignore[arg-type]
            return document, changes + batch.apply()
        masked = document if reveal else self._scalar(document)
        return masked, int(masked is not document)

    def _scalar(self, value: Any) -> Any:
        """Free-text masking of a scalar; returns the same object when nothing changed."""
        kind = type(value)
        if kind is str:
            return mask_text(value) if self._free_text else value
        if kind is int and self._integers:
            masked = mask_integer(value)
            return value if masked is None else masked
        return value

    def _list(self, node: list[Any], state: int, viewer_id: str | None, reveal: bool, batch: _Batch) -> int:
        changes = 0
        for index, value in enumerate(node):
            kind = type(value)
            if kind is dict:
                changes += self._dict(value, state, viewer_id, reveal, batch)
            elif kind is list:
                changes += self._list(value, state, viewer_id, reveal, batch)
            elif kind is str:
                if self._free_text and not reveal and not (len(value) in TIMESTAMP_LENGTHS and _is_timestamp(value)):
                    batch.slots.append((node, index))
                    batch.texts.append(value)
            elif not reveal:
                masked = self._scalar(value)
                if masked is not value:
                    node[index] = masked
                    changes += 1
                    if batch.tally is not None:
                        batch.tally["phone"] += 1  # a non-string scalar is masked only as a phone
        return changes

    def _dict(self, node: dict[str, Any], state: int, viewer_id: str | None, reveal: bool, batch: _Batch) -> int:  # noqa: PLR0912  # one flat loop is the hot path: splitting it costs a call per value
        owned = reveal or (
            viewer_id is not None and self._owner_field is not None and _as_id(node.get(self._owner_field)) == viewer_id
        )
        entries = self._entries[state]
        free_text = self._free_text and not owned
        integers = self._integers and not owned
        changes = 0
        dropped: list[str] | None = None
        renamed: dict[str, str] | None = None
        for key, value in node.items():
            entry = entries.get(key)
            if entry is None:
                entry = self._entry(state, key, entries)
            child, masker, masked_key, rule_kind = entry
            if masker is _drop:
                dropped = dropped or []
                dropped.append(key)
                continue
            if masked_key is not None and not reveal:
                renamed = renamed or {}
                renamed[key] = masked_key
            kind = type(value)
            if masker is not None and not owned:
                masked = masker(value) if kind is str else self._apply(value, masker)  # str: the usual case
                if masked is not value:
                    node[key] = masked
                    changes += 1
                    if batch.ruled is not None:
                        batch.ruled.append(rule_kind)
            elif masker is not None and kind is not dict and kind is not list:
                pass  # the owner's own ruled value, in clear; nested records are judged below
            elif kind is str:
                # A timestamp holds nothing to mask (see TIMESTAMP), and this test is cheaper than a search.
                if free_text and not (len(value) in TIMESTAMP_LENGTHS and _is_timestamp(value)):
                    batch.slots.append((node, key))
                    batch.texts.append(value)
            elif kind is dict:
                changes += self._dict(value, child, viewer_id, reveal, batch)
            elif kind is list:
                changes += self._list(value, child, viewer_id, reveal, batch)
            elif kind is int and integers and value in PHONE_INTEGERS:  # a cheap test: most are ids or counts
                masked_number = mask_integer(value)
                if masked_number is not None:
                    node[key] = masked_number
                    changes += 1
                    if batch.tally is not None:
                        batch.tally["phone"] += 1
        if dropped:
            for key in dropped:
                del node[key]
            if batch.tally is not None:
                batch.tally["drop"] += len(dropped)
            changes += len(dropped)
        if renamed:  # after the texts are masked: their slots name the old keys
            batch.renames.append((node, renamed))
        return changes

    def _grow_entries(self, state: int) -> None:
        entries = self._entries
        while len(entries) <= state:
            entries.append({})

    def _entry(self, state: int, key: str, entries: dict[str, _Entry]) -> _Entry:
        """What a key means in a state; cached, but bounded for maps keyed by ids."""
        matcher = self._matcher
        child = matcher.step(state, key) if state != DEAD else DEAD
        self._grow_entries(child)
        action = matcher.action(child)
        masker = self._maskers[action] if action else None
        masked_key = mask_text(key) if self._free_text else key
        kind = "rule" if masker is None else self._kinds.get(masker, "rule")
        entry = (child, masker, None if masked_key is key else masked_key, kind)
        if len(entries) < _MAX_CACHED_KEYS:
            entries[key] = entry
        return entry

    def _apply(self, value: Any, masker: Masker) -> Any:
        """Apply a field rule's masker; on a container, to every scalar inside it."""
        kind = type(value)
        if kind is str:
            return masker(value)
        if kind is dict:
            masked = {key: self._apply(item, masker) for key, item in value.items()}
            if self._free_text:  # keys under a rule are searched too (maps keyed by phone)
                renamed = {key: new for key in masked if (new := mask_text(key)) is not key}
                if renamed:
                    _rename_keys(masked, renamed)
            return masked
        if kind is list:
            return [self._apply(item, masker) for item in value]
        if value is None or kind is bool:
            return value
        return masker(_text_of(value))


def _drop(value: str) -> str:  # pragma: no cover - a marker: dropped fields are deleted, never masked
    raise AssertionError("drop is handled by the walk")


class _Batch:
    """Strings found by one walk, masked together in one pass (see ``mask_texts``)."""

    __slots__ = ("renames", "ruled", "slots", "tally", "texts")

    def __init__(self, tally: Counter[str] | None = None) -> None:
        self.slots: list[tuple[Any, Any]] = []  # (container, key or index) of each text
        self.texts: list[str] = []
        self.renames: list[tuple[dict[str, Any], dict[str, str]]] = []
        self.tally = tally
        # The kind of each value a field rule masked, counted into ``tally`` at the end: one
        # append per value is several times cheaper than ``Counter`` item assignment.
        self.ruled: list[str] | None = None if tally is None else []

    def apply(self) -> int:
        if self.tally is not None and self.ruled:
            self.tally.update(self.ruled)
        changed = mask_texts(self.texts, self.tally)
        slots = self.slots
        for index, masked in changed.items():
            container, where = slots[index]
            container[where] = masked
        for node, renamed in self.renames:
            _rename_keys(node, renamed)
        return len(changed) + sum(len(renamed) for _, renamed in self.renames)


def _rename_keys(node: dict[str, Any], renamed: dict[str, str]) -> None:
    """Replace masked keys in order; two keys that mask alike both survive (``#2``)."""
    items = list(node.items())
    node.clear()
    next_suffix: dict[str, int] = {}  # per masked key: linear even when thousands collide
    for key, value in items:
        new_key = renamed.get(key, key)
        candidate = new_key
        number = next_suffix.get(new_key, 1)
        while candidate in node:
            number += 1
            candidate = f"{new_key}#{number}"
        next_suffix[new_key] = number
        node[candidate] = value


def _as_id(value: Any) -> str | None:
    if value is None or type(value) is bool or type(value) in (dict, list):
        return None
    return _text_of(value)


def _text_of(value: Any) -> str:
    """A scalar as text; a RawNumber (big int, long decimal, snowflake id) as its exact source."""
    return value.text if isinstance(value, RawNumber) else str(value)
