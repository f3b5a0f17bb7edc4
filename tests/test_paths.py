"""Field paths: which keys a rule reaches (lists are transparent)."""

from __future__ import annotations

import pytest

from shield.masking.paths import DEAD, FieldMatcher, parse_field_path


def action_at(matcher: FieldMatcher, *keys: str) -> str | None:
    state = matcher.start
    for key in keys:
        state = matcher.step(state, key)
    return matcher.action(state)


@pytest.mark.parametrize(
    ("field", "keys", "hit"),
    [
        ("phone", ("phone",), True),
        ("phone", ("a", "b", "phone"), True),
        ("phone", ("phone_2",), False),
        ("*.contact.mobile", ("user", "contact", "mobile"), True),
        ("*.contact.mobile", ("contact", "mobile"), False),
        ("*.contact.mobile", ("a", "user", "contact", "mobile"), False),
        ("items[*].buyer.username", ("items", "buyer", "username"), True),
        ("items[*].buyer.username", ("orders", "buyer", "username"), False),
        ("**.mobile", ("mobile",), True),
        ("**.mobile", ("a", "b", "c", "mobile"), True),
        ("$.phone", ("phone",), True),
        ("$.phone", ("user", "phone"), False),
        ("a.**.z", ("a", "z"), True),
        ("a.**.z", ("a", "b", "c", "z"), True),
    ],
)
def test_rule_reach(field: str, keys: tuple[str, ...], hit: bool) -> None:
    matcher = FieldMatcher([(field, "phone")])
    assert (action_at(matcher, *keys) == "phone") is hit


def test_first_rule_wins() -> None:
    matcher = FieldMatcher([("user.phone", "drop"), ("phone", "phone")])
    assert action_at(matcher, "user", "phone") == "drop"
    assert action_at(matcher, "seller", "phone") == "phone"


def test_dead_state_for_unreachable_subtrees() -> None:
    matcher = FieldMatcher([("a.b", "phone")])
    assert matcher.step(matcher.start, "x") == DEAD
    assert FieldMatcher([]).start == DEAD


def test_transition_cache_is_bounded() -> None:
    matcher = FieldMatcher([("phone", "phone")])
    for number in range(10_000):
        matcher.step(matcher.start, f"key{number}")
    assert action_at(matcher, "phone") == "phone"
    assert len(matcher._transitions[matcher.start]) <= 4096


@pytest.mark.parametrize("bad", ["", "a..b", "a[0]", "a b", "a.", "[*]x", "a.b*"])
def test_invalid_paths(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid field path"):
        parse_field_path(bad)
