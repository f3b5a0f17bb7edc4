"""``mask_text``, ``mask_texts`` and ``mask_integer``: what survives and what stays identical."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    card_numbers,
    cn_mobiles,
    emails,
    filler_text,
    id_numbers,
    ordinary_digit_text,
    phone_numbers,
)

from shield.masking.maskers import mask_bank_card, mask_email, mask_id_number, mask_phone
from shield.masking.text import mask_integer, mask_text, mask_texts


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("请联系13800138000谢谢", "请联系138****8000谢谢"),
        ("Call +44 7911 123456 or a.b@example.com.", "Call +44 **** **3456 or a***@example.com."),
        ("ID 11010519491231002X, card 4111 1111 1111 1111", "ID 110***********002X, card **** **** **** 1111"),
        ("电话：010-12345678，找王经理", "电话：***-****5678，找王经理"),
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@given(cn_mobiles() | phone_numbers())
def test_text_masks_a_number_as_the_field_masker_does(number: str) -> None:
    assert mask_text(f"电话{number}。") == f"电话{mask_phone(number)}。"
    assert mask_text(number) == mask_phone(number)


@given(
    filler_text(),
    st.one_of(
        cn_mobiles().map(lambda v: (v, mask_phone)),
        phone_numbers().map(lambda v: (v, mask_phone)),
        emails().map(lambda v: (v, mask_email)),
        id_numbers().map(lambda v: (v, mask_id_number)),
        card_numbers().map(lambda v: (v, mask_bank_card)),
    ),
    filler_text(),
    st.sampled_from(("", " ", "：", "(", "「")),
)
def test_no_personal_data_survives_in_any_text(before: str, item: tuple[str, object], after: str, glue: str) -> None:
    value, masker = item
    text = f"{before}{glue}{value} {after}"
    masked = mask_text(text)
    assert callable(masker)
    assert value not in masked
    if glue:  # with no glue, ASCII filler may run into an email's local part
        assert masker(value) in masked
    digits = re.sub(r"\D", "", value)
    shown = re.sub(r"\D", "", masked)
    if masker is mask_phone:
        assert not any(digits[i : i + 5] in shown for i in range(len(digits) - 4))


@given(st.lists(filler_text() | ordinary_digit_text(), max_size=4).map(" ".join))
def test_text_without_personal_data_is_returned_itself(text: str) -> None:
    assert mask_text(text) is text


@given(st.lists(filler_text() | cn_mobiles() | ordinary_digit_text(), max_size=20))
def test_mask_texts_returns_the_changed_ones_by_index(texts: list[str]) -> None:
    expected = {i: mask_text(t) for i, t in enumerate(texts) if mask_text(t) != t}
    assert mask_texts(texts) == expected


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (13800138000, "138****8000"),
        (8613800138000, "86*******8000"),
        (447911123456, "********3456"),
        (79123456789, "*******6789"),
        (12015550123, "*******0123"),
        (0, None),
        (42, None),
        (129999, None),  # a price in cents
        (1700000000, None),  # unix seconds
        (1700000000123, None),  # unix milliseconds
        (202311240042, None),  # an order id that starts with a date
        (10**16 + 7, None),  # a snowflake-sized id
        (-13800138000, None),
    ],
)
def test_mask_integer(value: int, masked: str | None) -> None:
    assert mask_integer(value) == masked


@given(st.integers(max_value=9_999_999_999) | st.integers(1_000_000_000_000, 1_999_999_999_999))
def test_counts_and_timestamps_are_not_phones(value: int) -> None:
    assert mask_integer(value) is None


@given(cn_mobiles().map(lambda v: re.sub(r"\D", "", v)).filter(lambda d: len(d) == 11))
def test_integer_mobiles_mask_like_strings(digits: str) -> None:
    assert mask_integer(int(digits)) == mask_phone(digits) == mask_text(digits)


def test_bool_is_not_a_phone() -> None:
    assert mask_integer(True) is None


def test_records_with_timestamps_mask_only_the_phones() -> None:
    """ISO timestamps, in nearly every API record, never reach the detectors or change."""
    texts = ["2024-11-26T10:30:00Z", "Hangzhou", "call me at 138 0013 8000 or later", "2024-11-26T10:30:45.123+08:00"]
    assert all(mask_text(t) is t for t in texts[:2] + texts[3:])
    assert mask_texts(texts) == {2: "call me at 138 **** 8000 or later"}


@given(cn_mobiles(), cn_mobiles())
def test_two_numbers_side_by_side_are_both_masked(first: str, second: str) -> None:
    """Joined by a space they form one run too long for a phone: each must still be caught."""
    masked = mask_text(f"{first} {second}")
    runs = re.findall(r"[0-9]+", masked)
    for number in (first, second):
        digits = "".join(c for c in number if c.isdigit())[-11:]
        for at in range(len(digits) - 4):
            assert not any(digits[at : at + 5] in run for run in runs), (number, masked)
