"""Rewrite the values at declared JSON paths: the walk sealed IDs and pagination links share.

Paths are the same globs as masking rules (``id``, ``items[*].buyer.id``, ``links.next``),
compiled into the same :class:`~shield.masking.paths.FieldMatcher`, so lists are transparent
and a subtree no rule can reach is never visited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from shield.masking.paths import DEAD, FieldMatcher, parse_field_path

__all__ = ["DROP", "FieldRewriter", "Rewrite"]


class _Drop:
    """The value a rewrite returns to remove the field (or list item) altogether."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()

# (rule action, value) -> the new value, DROP, or the same object when unchanged.
Rewrite = Callable[[str, Any], Any]


class FieldRewriter:
    """Applies a rewrite to every value whose key path matches a rule; counts the changes.

    Unlike masking, a matched value is handed over whole (a link may be an object or a
    number), and the walk does not descend into it.
    """

    __slots__ = ("_final_keys", "_matcher")

    def __init__(self, rules: Sequence[tuple[str, str]]) -> None:
        """``rules`` are (field path, action) pairs; the first matching rule wins."""
        self._matcher = FieldMatcher(rules)
        # Only a key that ends some rule can match: every other scalar is skipped without a
        # step of the automaton (records are mostly scalars). None when a rule ends in a glob.
        finals = {parse_field_path(path)[-1] for path, _ in rules}
        self._final_keys: frozenset[str] | None = None if finals & {"*", "**"} else frozenset(finals)

    def rewrite(self, document: Any, apply: Rewrite) -> int:
        """Rewrite ``document`` in place; the number of values changed or dropped."""
        kind = type(document)
        if kind is dict:
            return self._dict(document, self._matcher.start, apply)
        if kind is list:
            return self._list(document, self._matcher.start, apply)
        return 0

    def _dict(self, node: dict[str, Any], state: int, apply: Rewrite) -> int:
        matcher = self._matcher
        finals = self._final_keys
        changes = 0
        dropped: list[str] = []
        for key, value in node.items():
            kind = type(value)
            if finals is not None and kind is not dict and kind is not list and key not in finals:
                continue
            child = matcher.step(state, key)
            if child == DEAD:
                continue
            action = matcher.action(child)
            if action is not None:
                new = apply(action, value)
                if new is DROP:
                    dropped.append(key)
                elif new is not value:
                    node[key] = new
                    changes += 1
            elif kind is dict:
                changes += self._dict(value, child, apply)
            elif kind is list:
                changes += self._list(value, child, apply)
        for key in dropped:
            del node[key]
        return changes + len(dropped)

    def _list(self, node: list[Any], state: int, apply: Rewrite) -> int:
        changes = 0
        for value in node:
            if type(value) is dict:
                changes += self._dict(value, state, apply)
            elif type(value) is list:
                changes += self._list(value, state, apply)
        return changes
