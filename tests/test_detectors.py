"""Free-text detectors: what ``find_spans`` finds, where, and what it leaves alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import card_numbers, id_numbers

from benchmarks.build_phone_corpus import country_code_table
from shield.masking.detectors import (
    TIMESTAMP,
    TIMESTAMP_LENGTHS,
    Span,
    candidate_starts,
    find_spans,
    is_id_number,
    luhn_valid,
)
from shield.masking.phones import NATIONAL_LENGTHS, country_code_of


def kinds(text: str) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.kind) for s in find_spans(text)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # Chinese mobiles and landlines, glued to CJK text or not
        ("请联系13800138000谢谢", [("13800138000", "phone")]),
        ("手机：138 0013 8000。", [("138 0013 8000", "phone")]),
        ("电话010-12345678", [("010-12345678", "phone")]),
        ("座机0755-1234567转8", [("0755-1234567", "phone")]),
        ("(021)12345678", [("(021)12345678", "phone")]),
        ("（０２１）１２３４５６７８", [("（０２１）１２３４５６７８", "phone")]),
        # international and national formats
        ("Call +44 7911 123456 now", [("+44 7911 123456", "phone")]),
        ("tel:+8613800138000", [("+8613800138000", "phone")]),
        ("(+86) 138-0013-8000", [("(+86) 138-0013-8000", "phone")]),
        ("US: (415) 555-0132.", [("(415) 555-0132", "phone")]),
        ("Ph: 415.555.0132", [("415.555.0132", "phone")]),
        ("+44 (0)20 7946 0018", [("+44 (0)20 7946 0018", "phone")]),
        ("Позвоните 8 (912) 345-67-89", [("8 (912) 345-67-89", "phone")]),
        ("Llámame al 612 34 56 78", [("612 34 56 78", "phone")]),
        ("اتصل بي على +971 50 123 4567", [("+971 50 123 4567", "phone")]),
        ("Call me at02079460018now", [("02079460018", "phone")]),
        ("WhatsApp+5511961234567", [("+5511961234567", "phone")]),
        ("(see 0207 946 0018)", [("0207 946 0018", "phone")]),
        ("2024-11-26 020 7946 0018", [("020 7946 0018", "phone")]),
        # short numbers only with a phone word nearby
        ("Tel: 40 12 38", [("40 12 38", "phone")]),
        ("zip 40123", []),
        # emails, IDs, cards
        ("mail me a.b+x@example.co.uk!", [("a.b+x@example.co.uk", "email")]),
        ("邮箱zhang.san@qq.com谢谢", [("zhang.san@qq.com", "email")]),
        ("13800138000@qq.com", [("13800138000@qq.com", "email")]),
        ("身份证11010519491231002X号", [("11010519491231002X", "id_number")]),
        ("old id 110105491231002 here", [("110105491231002", "id_number")]),
        ("card 4111 1111 1111 1111.", [("4111 1111 1111 1111", "bank_card")]),
        ("卡号6222020200112233446", [("6222020200112233446", "bank_card")]),
    ],
)
def test_finds(text: str, found: list[tuple[str, str]]) -> None:
    assert kinds(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "2024-11-26", "26.11.2024", "11/26/2024", "2024年11月26日", "2024/11/26 10:30:45",
        "2024-11-26T10:30:45.123+08:00", "1700000000", "1700000000123", "1700000000.123",
        "$1,299.99", "1.299,99 €", "¥12800", "12 800 ₽", "RMB 1970516", "Preis 1.234.567 €",
        "v2.10.1", "3.11.7", "v10.0.19045.3693", "Order #20231124-0042", "Order No. 12345678",
        "SKU AB-12345-X", "SKU12345678", "INV-2024-000123", "1Z999AA10123456784", "SF1234567890123",
        "9400111899223856928499", "12.5%", "4029519 pcs", "共2176788件", "2019 2020 2021 2022",
        "zip 94103-1234", "〒100-0001", "CEP 01310-100", "192.168.1.1", "page 37/618",
        "ISBN 978-3-16-148410-0", "9783161484100", "https://x.com/orders/12345678901",
        "?id=12345678901", "4111 1111 1111 1112", "11010519491231002Y", "订单号20231124000123",
    ],
)  # fmt: skip
def test_leaves_ordinary_digits_alone(text: str) -> None:
    assert find_spans(text) == []


def test_luhn_and_id_checksums() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert is_id_number("11010519491231002X")
    assert not is_id_number("110105194912310021")
    assert not is_id_number("11010519491332002X")  # 32nd of December


@given(id_numbers())
def test_valid_ids_are_found(number: str) -> None:
    assert find_spans(f"证件号 {number} 。") == [Span(4, 4 + len(number), "id_number")]


@given(card_numbers())
def test_valid_cards_are_found(number: str) -> None:
    text = f"card: {number}, thanks"
    assert [s.kind for s in find_spans(text)] == ["bank_card"]


@pytest.mark.parametrize(
    ("digits", "cc"), [("447911123456", "44"), ("12015550123", "1"), ("8613800138000", "86"), ("9991", "")]
)
def test_country_code_of(digits: str, cc: str) -> None:
    assert country_code_of(digits) == cc


@given(st.text())
def test_spans_are_ordered_disjoint_and_in_bounds(text: str) -> None:
    spans = find_spans(text)
    assert all(0 <= s.start < s.end <= len(text) for s in spans)
    assert all(a.end <= b.start for a, b in pairwise(spans))


def test_country_code_table_matches_libphonenumber() -> None:
    """The calling-code table shield carries (it must not import phonenumbers) has not drifted."""
    expected = {
        cc: frozenset(map(int, ns.split(","))) for cc, _, ns in (i.partition(":") for i in country_code_table().split())
    }
    assert expected == NATIONAL_LENGTHS


@pytest.mark.parametrize(
    ("text", "candidates"),
    [
        ("2024-11-26T10:30:00Z", []),  # the ISO date is skipped whole, the times are too short
        ("2024-11-26T10:30:45.123+08:00", ["45.123"]),  # five characters: Python decides
        ("on 2024/11/26, at 10:30", []),
        ("10:30:45", []),
        ("2024-11-26 020 7946 0018", ["2024-11-26 020 7946 0018"]),  # a date that does not end its run
        ("2024-11-26-0042", ["2024-11-26-0042"]),
        ("+2024-11-26T", ["+2024-11-26"]),
        ("12-345", ["12-345"]),
        ("12:345678", ["345678"]),
    ],
)
def test_candidates_skip_what_cannot_hold_personal_data(text: str, candidates: list[str]) -> None:
    """The regex rejects in C the runs ``find_spans`` would reject in Python: short ones, ISO dates."""
    assert [m.group() for m in candidate_starts(text)] == candidates


@given(st.from_regex(TIMESTAMP, fullmatch=True))
def test_whole_timestamps_hold_nothing_to_find(text: str) -> None:
    """The walk skips the strings ``TIMESTAMP`` matches whole: ``find_spans`` must find nothing in them."""
    assert len(text) in TIMESTAMP_LENGTHS
    assert find_spans(text) == []


@pytest.mark.parametrize("timespec", ["seconds", "milliseconds", "microseconds"])
@pytest.mark.parametrize("zone", [None, UTC, timezone(timedelta(hours=-5, minutes=-30))])
def test_timestamp_matches_what_apis_write(timespec: str, zone: tzinfo | None) -> None:
    text = datetime(2023, 3, 5, 21, 15, 5, 120000, tzinfo=zone).isoformat(timespec=timespec)
    assert TIMESTAMP.fullmatch(text)
    assert TIMESTAMP.fullmatch(text.replace("+00:00", "Z"))
