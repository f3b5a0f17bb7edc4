"""Rewrite the values at declared JSON paths: the walk sealed IDs and pagination links share.

Paths are the same globs as masking rules (``id``, ``items[*].buyer.id``, ``links.next``),
compiled into the same :class:`~shield.masking.paths.FieldMatcher`, so lists are transparent
and a subtree no rule can reach is never visited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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


# (the state after a key, that state's action)
_Step = tuple[int, str | None]
# By state: the keys that step elsewhere than all others (and where to), and where all others step.
_Plan = tuple[dict[str, _Step], _Step]
_CONTAINERS = frozenset({dict, list})


class FieldRewriter:
    """Applies a rewrite to every value whose key path matches a rule; counts the changes.

    Unlike masking, a matched value is handed over whole (a link may be an object or a
    number), and the walk does not descend into it. Values are visited in document order.

    Every key that no rule names literally steps the automaton alike, so each state keeps the
    few named keys' steps and the one step all other keys share (its plan). A dict is done
    without stepping any key when it holds no named key and the other keys lead nowhere: to
    DEAD, or to a state without an action while the dict holds only scalars (most records).
    """

    __slots__ = ("_keys", "_matcher", "_plans")

    def __init__(self, rules: Sequence[tuple[str, str]]) -> None:
        """``rules`` are (field path, action) pairs; the first matching rule wins."""
        self._matcher = FieldMatcher(rules)
        self._keys = frozenset(
            segment for path, _ in rules for segment in parse_field_path(path) if segment not in ("*", "**")
        )
        self._plans: dict[int, _Plan] = {}

    def rewrite(self, document: Any, apply: Rewrite) -> int:
        """Rewrite ``document`` in place; the number of values changed or dropped."""
        kind = type(document)
        if kind is dict:
            return self._dict(document, self._matcher.start, apply)
        if kind is list:
            return self._list(document, self._matcher.start, apply)
        return 0

    def _plan(self, state: int) -> _Plan:
        plan = self._plans.get(state)
        if plan is None:
            matcher = self._matcher
            unnamed = "."  # a key no rule names literally
            while unnamed in self._keys:
                unnamed += "."
            other = matcher.step(state, unnamed)
            named: dict[str, _Step] = {}
            for key in self._keys:
                child = matcher.step(state, key)
                if child != other:
                    named[key] = (child, matcher.action(child))
            plan = self._plans[state] = (named, (other, matcher.action(other)))
        return plan

    def _dict(self, node: dict[str, Any], state: int, apply: Rewrite) -> int:
        named, other = self._plan(state)
        return 0 if _idle(node, named, other) else self._visit(node, named, other, apply)

    def _list(self, node: list[Any], state: int, apply: Rewrite) -> int:
        named, other = self._plan(state)  # lists are transparent: every item is in this state
        changes = 0
        for value in node:
            kind = type(value)
            if kind is dict:
                if not _idle(value, named, other):
                    changes += self._visit(value, named, other, apply)
            elif kind is list:
                changes += self._list(value, state, apply)
        return changes

    def _visit(self, node: dict[str, Any], named: dict[str, _Step], other: _Step, apply: Rewrite) -> int:
        """Rewrite or descend into ``node``'s values, key by key in document order."""
        keys: Iterable[str] = node
        if other[0] == DEAD:  # only named keys lead anywhere: step those alone
            # With one named key, _idle has just found it in the node.
            keys = named if len(named) == 1 else [key for key in node if key in named]
        changes = 0
        dropped: list[str] = []
        for key in keys:
            child, action = named.get(key, other)
            value = node[key]
            if action is not None:
                new = apply(action, value)
                if new is DROP:
                    dropped.append(key)
                elif new is not value:
                    node[key] = new  # an existing key: safe while iterating over the dict
                    changes += 1
            elif child != DEAD:
                kind = type(value)
                if kind is dict:
                    changes += self._dict(value, child, apply)
                elif kind is list:
                    changes += self._list(value, child, apply)
        for key in dropped:
            del node[key]
        return changes + len(dropped)


def _idle(node: dict[str, Any], named: dict[str, _Step], other: _Step) -> bool:
    """Whether no rule can match in ``node`` or below, as far as its plan tells without stepping.

    Plain loops, no comprehension or keys view: this runs for every record of a list.
    """
    if other[1] is not None:  # a rule ends in a glob here: every key counts
        return False
    for key in named:
        if key in node:
            return False
    if other[0] == DEAD:
        return True
    for value in node.values():  # noqa: SIM110  # a plain loop beats all()/map() here
        if type(value) in _CONTAINERS:  # other keys lead on: only into containers
            return False
    return True
