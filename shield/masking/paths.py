"""Field rules: which JSON keys a masker applies to.

A rule names a key anywhere in the document (``phone``) or a path from the root
(``*.contact.mobile``, ``items[*].buyer.username``, ``**.mobile``). Lists are transparent
(``[*]`` may be written for readability), so a rule cannot be dodged by wrapping records
in an array. Rules compile into a small lazily built automaton: one dict lookup per key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["DEAD", "FieldMatcher", "parse_field_path"]

ANY_KEY = "*"
ANY_DEPTH = "**"
DEAD = 0
_SEGMENT = re.compile(r"^(?:\*\*|\*|[^.\[\]\s*]+)(?:\[\*\])?$")
_MAX_CACHED_KEYS = 4096


def parse_field_path(text: str) -> tuple[str, ...]:
    """Split a rule's field into segments; a bare key name matches at any depth."""
    path = text.removeprefix("$.")
    segments = path.split(".")
    for segment in segments:
        if not _SEGMENT.match(segment):
            raise ValueError(
                f"invalid field path {text!r}: segment {segment!r} must be a key name, '*' or "
                "'**', optionally followed by '[*]'"
            )
    names = tuple(s.removesuffix("[*]") for s in segments)
    if len(names) == 1 and names[0] not in (ANY_KEY, ANY_DEPTH) and not text.startswith("$."):
        return (ANY_DEPTH, names[0])
    return names


class FieldMatcher:
    """A DFA over key paths, built on demand from the rules' glob-like paths.

    States are small integers; ``DEAD`` means no rule can match below this point, so
    the walker can skip rule checks for the whole subtree.
    """

    __slots__ = ("_actions", "_items", "_rules", "_states", "_transitions", "start")

    def __init__(self, rules: Sequence[tuple[str, str]]) -> None:
        """``rules`` are (field path, action) pairs; the first matching rule wins."""
        self._rules = [(parse_field_path(path), action) for path, action in rules]
        self._states: dict[frozenset[tuple[int, int]], int] = {}
        self._items: list[frozenset[tuple[int, int]]] = []
        self._transitions: list[dict[str, int]] = []
        self._actions: list[str | None] = []
        self._intern(frozenset())  # DEAD
        self.start = self._intern(self._closure({(index, 0) for index in range(len(self._rules))}))

    def step(self, state: int, key: str) -> int:
        """The state after descending into ``key``."""
        transitions = self._transitions[state]
        found = transitions.get(key)
        if found is None:
            found = self._compute(state, key)
            if len(transitions) < _MAX_CACHED_KEYS:  # bounded even for maps keyed by ids
                transitions[key] = found
        return found

    def action(self, state: int) -> str | None:
        """The action of the first rule that matches exactly at this state."""
        return self._actions[state]

    def _compute(self, state: int, key: str) -> int:
        moved: set[tuple[int, int]] = set()
        for rule, position in self._items[state]:
            segments = self._rules[rule][0]
            if position >= len(segments):
                continue
            segment = segments[position]
            if segment == ANY_DEPTH:
                moved.add((rule, position))  # ** swallows this key and stays
            elif segment in (ANY_KEY, key):
                moved.add((rule, position + 1))
        return self._intern(self._closure(moved))

    def _closure(self, items: set[tuple[int, int]]) -> frozenset[tuple[int, int]]:
        """``**`` also matches zero keys: add the position after it."""
        pending = list(items)
        closed = set(items)
        while pending:
            rule, position = pending.pop()
            segments = self._rules[rule][0]
            if position < len(segments) and segments[position] == ANY_DEPTH:
                following = (rule, position + 1)
                if following not in closed:
                    closed.add(following)
                    pending.append(following)
        return frozenset(closed)

    def _intern(self, items: frozenset[tuple[int, int]]) -> int:
        found = self._states.get(items)
        if found is not None:
            return found
        number = len(self._transitions)
        self._states[items] = number
        self._items.append(items)
        self._transitions.append({})
        done = sorted(rule for rule, position in items if position == len(self._rules[rule][0]))
        self._actions.append(self._rules[done[0]][1] if done else None)
        return number
