"""Properties of ``mask_json`` over arbitrary documents, with field rules and free text.

Records with a username, a phone and an email are injected anywhere in a random document
(nested in lists and objects, phones also as integers and inside comments). None of the
injected values survives, the shape is kept, and everything else is left exactly as it was.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from strategies import cn_mobiles, emails, filler_text, usernames

from shield import Policy, mask_json

POLICY = Policy.from_dict(
    {
        "mask": [
            {"field": "username", "kind": "username"},
            {"field": "phone", "kind": "phone"},
            {"field": "email", "kind": "email"},
            {"field": "**.contact.mobile", "kind": "phone"},
        ]
    }
)

plain_keys = st.sampled_from(["id", "name_", "city", "tags", "meta", "score", "items"])
plain_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**9), 10**9), st.floats(allow_nan=False), filler_text()
)


@st.composite
def records(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    username = draw(usernames())
    phone = draw(cn_mobiles())
    digits = "".join(c for c in phone if c.isdigit())[-11:]
    mail = draw(emails())
    mobile = draw(cn_mobiles())
    record = {
        "username": username,
        "phone": draw(st.sampled_from([phone, int(digits)])),
        "email": mail,
        "contact": {"mobile": mobile},
        "comment": f"{draw(filler_text())} {draw(cn_mobiles())}, {draw(filler_text())}",
    }
    mobile_digits = "".join(c for c in mobile if c.isdigit())[-11:]
    return record, [digits, mail, mobile_digits]


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return None


def strings_and_digits(value: Any) -> set[str]:
    """Every string value, and the digits of every value, of a document."""
    found: set[str] = set()
    if isinstance(value, dict):
        for item in value.values():
            found |= strings_and_digits(item)
    elif isinstance(value, list):
        for item in value:
            found |= strings_and_digits(item)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        found.add(str(value))
        found.add("".join(c for c in str(value) if c.isdigit()))
    return found


@st.composite
def documents_with_records(draw: st.DrawFn) -> tuple[Any, list[str]]:
    injected = draw(st.lists(records(), min_size=1, max_size=4))
    leaves = plain_leaves | st.sampled_from([record for record, _ in injected])
    document = draw(
        st.recursive(
            leaves,
            lambda children: st.lists(children, max_size=3) | st.dictionaries(plain_keys, children, max_size=3),
            max_leaves=12,
        )
    )
    document = {"items": [record for record, _ in injected], "rest": document}
    return document, [secret for _, secrets in injected for secret in secrets]


@given(documents_with_records())
def test_no_injected_value_survives_and_the_shape_is_kept(case: tuple[Any, list[str]]) -> None:
    document, secrets = case
    before = json.dumps(document, sort_keys=True)
    masked = mask_json(document, POLICY)
    assert json.dumps(document, sort_keys=True) == before  # the input is never modified
    assert shape(masked) == shape(document)
    json.dumps(masked)  # still serialisable JSON
    left = strings_and_digits(masked)
    text = json.dumps(masked, ensure_ascii=False)
    for secret in secrets:  # numbers and emails: nowhere, not even inside another string
        assert secret not in left
        assert secret not in text
    for original, result in zip(document["items"], masked["items"], strict=True):
        assert result["username"] != original["username"]  # a short name may occur elsewhere


@given(st.recursive(plain_leaves, lambda c: st.lists(c, max_size=3) | st.dictionaries(plain_keys, c, max_size=3)))
def test_documents_without_personal_data_are_unchanged(document: Any) -> None:
    assert mask_json(document, POLICY) == document
