"""The field walk shared by sealed IDs, pagination links and record counting.

Its shortcuts (named keys per state, records skipped without stepping each key) must never
change what it visits: it is checked against a walk that steps the automaton for every key.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shield.fieldwalk import DROP, FieldRewriter, Rewrite
from shield.masking.paths import DEAD, FieldMatcher

KEYS = ["a", "b", "id", "next", "items", "x", "*", "**", ".", ""]
PATHS = [
    "a",
    "id",
    "next",
    "$.next",
    "items[*].id",
    "a.b",
    "$.a",
    "*.id",
    "a.*",
    "**.x",
    "a.**.b",
    "*",
    "**",
    "items.*.id",
    "$.items[*].next",
]
ACTIONS = ["keep", "set", "drop"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(["s", "id", "next"]))
objects = st.recursive(
    st.dictionaries(st.sampled_from(KEYS), scalars, max_size=4),
    lambda inner: st.dictionaries(
        st.sampled_from(KEYS), st.one_of(scalars, inner, st.lists(st.one_of(scalars, inner), max_size=3)), max_size=4
    ),
    max_leaves=12,
)
documents = st.one_of(objects, st.lists(st.one_of(objects, scalars), max_size=3))
rule_sets = st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(ACTIONS)), min_size=1, max_size=3)


def stepping_every_key(rules: list[tuple[str, str]], document: Any, apply: Rewrite) -> int:
    """The reference: one automaton step per key, no shortcut."""
    matcher = FieldMatcher(rules)

    def walk(node: Any, state: int) -> int:
        if type(node) is list:
            return sum(walk(item, state) for item in node if type(item) in (dict, list))
        changes, dropped = 0, []
        for key, value in node.items():
            child = matcher.step(state, key)
            action = matcher.action(child)
            if child == DEAD:
                continue
            if action is not None:
                new = apply(action, value)
                if new is DROP:
                    dropped.append(key)
                elif new is not value:
                    node[key] = new
                    changes += 1
            elif type(value) in (dict, list):
                changes += walk(value, child)
        for key in dropped:
            del node[key]
        return changes + len(dropped)

    return walk(document, matcher.start) if type(document) in (dict, list) else 0


def recorder() -> tuple[list[tuple[str, str]], Rewrite]:
    calls: list[tuple[str, str]] = []

    def apply(action: str, value: Any) -> Any:
        calls.append((action, json.dumps(value)))
        return {"keep": value, "set": f"<{action}>", "drop": DROP}[action]

    return calls, apply


@settings(max_examples=400)
@given(rule_sets, documents)
def test_the_walk_visits_what_stepping_every_key_visits(rules: list[tuple[str, str]], document: Any) -> None:
    expected_document, document = copy.deepcopy(document), copy.deepcopy(document)
    expected_calls, expected_apply = recorder()
    calls, apply = recorder()
    expected = stepping_every_key(rules, expected_document, expected_apply)
    walker = FieldRewriter(rules)
    assert walker.rewrite(document, apply) == expected
    assert calls == expected_calls  # the same values, in the same (document) order
    assert document == expected_document
    again = copy.deepcopy(expected_document)  # plans are cached per state: a second walk agrees
    assert walker.rewrite(again, recorder()[1]) == stepping_every_key(rules, copy.deepcopy(again), recorder()[1])


def test_records_are_visited_in_document_order_with_several_named_keys() -> None:
    calls, apply = recorder()
    records = [{"b": 1, "x": 0, "a": 2}, {"a": 3, "b": 4}]
    FieldRewriter([("items[*].a", "keep"), ("items[*].b", "keep")]).rewrite({"items": records}, apply)
    assert [value for _, value in calls] == ["1", "2", "3", "4"]


def test_an_unanchored_key_is_found_below_scalar_only_siblings() -> None:
    document = {"items": [{"id": 1, "name": "n"}, {"id": 2, "meta": {"next": "/p?o=1"}}], "next": "/p?o=2"}
    _, apply = recorder()
    assert FieldRewriter([("next", "set")]).rewrite(document, apply) == 2
    assert document == {"items": [{"id": 1, "name": "n"}, {"id": 2, "meta": {"next": "<set>"}}], "next": "<set>"}


def test_no_rules_visit_nothing() -> None:
    calls, apply = recorder()
    assert FieldRewriter([]).rewrite({"a": {"b": [1, {"c": 2}]}}, apply) == 0
    assert calls == []
