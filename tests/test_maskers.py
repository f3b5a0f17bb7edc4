"""Value maskers: formats, conservative handling of odd input, and what they never reveal."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import card_numbers, cn_mobiles, emails, id_numbers, phone_numbers, usernames

from shield.masking.maskers import (
    MASKER_KINDS,
    MASKERS,
    REDACTED,
    make_hasher,
    mask_bank_card,
    mask_email,
    mask_id_number,
    mask_phone,
    mask_username,
    redact,
)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138 **** 5678"),
        ("138-1234-5678 ", "138-****-5678 "),  # kept digits not at the ends: the offsets are walked
        ("１３８ １２３４ ５６７８", "１３８ **** ５６７８"),
        ("+86 138 1234 5678", "+86 *** **** 5678"),  # "86"+"138" would be 5 digits in a row
        ("8613812345678", "86*******5678"),
        ("+44 7911 123456", "+44 **** **3456"),
        ("+447911123456", "+44******3456"),
        ("+1 201-555-0123", "+1 ***-***-0123"),
        ("+1 415-551-1234", "+1 ***-***-*234"),  # "1"+"1234" is a run of the original
        ("(021)12345678", "(***)****5678"),
        ("0755-1234567", "****-***4567"),
        ("555-0123", "***-*123"),
        ("+683 7012", "+683 ****"),
        ("40 12 38", "** ** 38"),
        ("abc", "***"),
        ("", ""),
        ("tel 138-1234-5678", "*** 138-****-5678"),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("masker", "value", "masked"),
    [
        (mask_username, "test1", "t***1"),
        (mask_username, "张三丰", "张***"),
        (mask_username, "abcd", "a***"),
        (mask_username, "ab", "a***"),
        (mask_username, "a", "***"),
        (mask_username, "", "***"),
        (mask_email, "alice@example.com", "a***@example.com"),
        (mask_email, "a@b.cn", "a***@b.cn"),
        (mask_email, "not an email", "***"),
        (mask_email, "@example.com", "***"),
        (mask_id_number, "11010519491231002X", "110***********002X"),
        (mask_id_number, "110105491231002", "110********1002"),
        (mask_id_number, "1234", "****"),
        (mask_bank_card, "4111 1111 1111 1111", "**** **** **** 1111"),
        (mask_bank_card, "4111-1111-1111-1111", "****-****-****-1111"),
        (mask_bank_card, "12345", "*****"),
        (redact, "anything", REDACTED),
    ],
)
def test_maskers(masker: object, value: str, masked: str) -> None:
    assert callable(masker)
    assert masker(value) == masked


def test_registry() -> None:
    assert set(MASKERS) == {"phone", "username", "email", "id_number", "bank_card", "redact"}
    assert set(MASKER_KINDS) == set(MASKERS) | {"drop", "hash"}


def digit_runs(text: str) -> list[str]:
    return re.findall(r"\d+", text)


def shows_run(value: str, masked: str, *, strict: bool) -> bool:
    """Five consecutive digits of ``value`` in ``masked`` (``strict``: with the mask removed)."""
    digits = re.sub(r"\D", "", value)
    runs = [re.sub(r"\D", "", masked)] if strict else digit_runs(masked)
    return any(digits[i : i + 5] in run for run in runs for i in range(len(digits) - 4))


@given(cn_mobiles() | phone_numbers(("E164", "INTERNATIONAL", "NATIONAL"), min_digits=1))
def test_phone_mask_never_shows_five_digits_even_unmasked(value: str) -> None:
    masked = mask_phone(value)
    assert not shows_run(value, masked, strict=True)
    assert len(masked) == len(value)
    assert mask_phone(value) == masked


@given(card_numbers() | id_numbers() | id_numbers(legacy=True))
def test_card_and_id_masks_show_no_run_of_five(value: str) -> None:
    for masker in (mask_bank_card, mask_id_number):
        assert not shows_run(value, masker(value), strict=False)


@given(st.text())
def test_maskers_accept_any_string(value: str) -> None:
    for name, masker in MASKERS.items():
        masked = masker(value)
        assert masker(value) == masked, name  # deterministic
        if name != "email":  # an email keeps its domain, digits and all
            assert not shows_run(value, masked, strict=False), name


@given(usernames(max_size=4))
def test_short_usernames_show_at_most_one_character(name: str) -> None:
    assert sum(c != "*" for c in mask_username(name)) <= 1


@given(usernames())
def test_username_mask_hides_the_length(name: str) -> None:
    assert mask_username(name).count("*") == 3


@given(emails())
def test_email_mask_keeps_only_first_character_and_domain(address: str) -> None:
    local, _, domain = address.rpartition("@")
    assert mask_email(address) == f"{local[0]}***@{domain}"


@given(st.text(), st.text())
def test_hasher_is_stable_keyed_and_compact(a: str, b: str) -> None:
    hasher = make_hasher(b"k" * 32)
    assert re.fullmatch(r"h_[a-z2-7]{16}", hasher(a))
    assert hasher(a) == make_hasher(b"k" * 32)(a)
    assert (hasher(a) == hasher(b)) == (a == b)
    assert hasher(a) != make_hasher(b"j" * 32)(a)


def test_hasher_needs_a_key() -> None:
    with pytest.raises(ValueError, match="key"):
        make_hasher(b"")


@given(st.from_regex(r"\A1[3-9][0-9]{9}\Z"))
def test_mainland_mobile_fast_path_agrees_with_the_general_path(number: str) -> None:
    """The shortcut for plain mainland mobiles must give exactly the general result."""
    spaced = f"{number[:3]} {number[3:7]} {number[7:]}"
    general = mask_phone(spaced).replace(" ", "")
    assert mask_phone(number) == general
