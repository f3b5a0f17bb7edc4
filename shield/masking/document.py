"""Masking a parsed JSON document in place: field rules plus free-text detection.

One walk applies everything: a field rule (by key name or path) decides a value's fate
first; every other string is searched for personal data, and integers are checked for
phone numbers. The walk counts what it changed so an untouched body can go out
byte-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from shield.masking.maskers import MASKERS, make_hasher
from shield.masking.paths import DEAD, FieldMatcher
from shield.masking.text import mask_integer, mask_text

__all__ = ["DROP", "DocumentMasker"]

DROP = "drop"
_MAX_CACHED_KEYS = 4096
Masker = Callable[[str], str]


class DocumentMasker:
    """Compiled masking for one set of rules; safe to share between requests."""

    __slots__ = ("_free_text", "_integers", "_key_cache", "_maskers", "_matcher", "_owner_field")

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
        self._maskers: dict[str, Masker] = dict(MASKERS)
        if hash_key is not None:
            self._maskers["hash"] = make_hasher(hash_key)
        for _, kind in rules:
            if kind != DROP and kind not in self._maskers:
                raise ValueError(f"masker {kind!r} is unknown or needs a key that was not given")
        self._free_text = free_text
        self._integers = integers
        self._owner_field = owner_field
        self._key_cache: dict[str, str | None] = {}

    def mask(self, document: Any, *, viewer_id: str | None = None, reveal: bool = False) -> tuple[Any, int]:
        """Mask ``document`` in place; return it (a bare scalar may be replaced) and the change count.

        ``viewer_id`` unmasks the direct fields of records whose owner field equals it;
        ``reveal`` (a privileged role) leaves values in clear but still drops fields.
        """
        if type(document) is dict or type(document) is list:
            return document, self._container(document, self._matcher.start, viewer_id, reveal)
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

    def _container(self, node: dict[str, Any] | list[Any], state: int, viewer_id: str | None, reveal: bool) -> int:
        if type(node) is list:
            return self._list(node, state, viewer_id, reveal)
        return self._dict(node, state, viewer_id, reveal)  # type: ignore[arg-type]  # only dicts remain

    def _list(self, node: list[Any], state: int, viewer_id: str | None, reveal: bool) -> int:
        changes = 0
        for index, value in enumerate(node):
            if type(value) is dict or type(value) is list:
                changes += self._container(value, state, viewer_id, reveal)
            elif not reveal:
                masked = self._scalar(value)
                if masked is not value:
                    node[index] = masked
                    changes += 1
        return changes

    def _dict(self, node: dict[str, Any], state: int, viewer_id: str | None, reveal: bool) -> int:
        owned = reveal or (
            viewer_id is not None and self._owner_field is not None and _as_id(node.get(self._owner_field)) == viewer_id
        )
        matcher = self._matcher
        changes = 0
        dropped: list[str] = []
        renamed: dict[str, str] = {}
        for key, value in node.items():
            child_state = matcher.step(state, key) if state != DEAD else DEAD
            action = matcher.action(child_state)
            if action == DROP:
                dropped.append(key)
                continue
            if not reveal and self._free_text:
                masked_key = self._masked_key(key)
                if masked_key is not None:
                    renamed[key] = masked_key
            if action is not None:
                if not owned:  # an owner sees their own ruled fields (containers too) in clear
                    masked = self._apply(value, self._maskers[action])
                    if masked is not value:
                        node[key] = masked
                        changes += 1
            elif type(value) is dict or type(value) is list:
                changes += self._container(value, child_state, viewer_id, reveal)
            elif not owned:
                masked = self._scalar(value)
                if masked is not value:
                    node[key] = masked
                    changes += 1
        for key in dropped:
            del node[key]
        if renamed:
            _rename_keys(node, renamed)
        return changes + len(dropped) + len(renamed)

    def _apply(self, value: Any, masker: Masker) -> Any:
        """Apply a field rule's masker; on a container, to every scalar inside it."""
        kind = type(value)
        if kind is str:
            return masker(value)
        if kind is dict:
            return {key: self._apply(item, masker) for key, item in value.items()}
        if kind is list:
            return [self._apply(item, masker) for item in value]
        if value is None or kind is bool:
            return value
        text = getattr(value, "text", None)  # RawNumber keeps its exact source text
        return masker(text if isinstance(text, str) else str(value))

    def _masked_key(self, key: str) -> str | None:
        """The masked key, or None when it holds nothing personal (maps keyed by phone exist).

        Cached: the same keys repeat in every record.
        """
        if key in self._key_cache:
            return self._key_cache[key]
        masked = mask_text(key)
        result = None if masked is key else masked
        if len(self._key_cache) < _MAX_CACHED_KEYS:
            self._key_cache[key] = result
        return result


def _rename_keys(node: dict[str, Any], renamed: dict[str, str]) -> None:
    """Replace masked keys in order; two keys that mask alike both survive (``#2``)."""
    items = list(node.items())
    node.clear()
    for key, value in items:
        new_key = renamed.get(key, key)
        candidate, number = new_key, 1
        while candidate in node:
            number += 1
            candidate = f"{new_key}#{number}"
        node[candidate] = value


def _as_id(value: Any) -> str | None:
    if value is None or type(value) is bool or type(value) in (dict, list):
        return None
    return str(value)
