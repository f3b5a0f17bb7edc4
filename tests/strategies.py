"""Shared hypothesis strategies for personal data and for text that must stay untouched.

Import them from any test (``from strategies import phone_numbers``). The generators build
their own checksums (GB 11643, Luhn) instead of calling shield, so they are an independent
oracle. Phone numbers come from libphonenumber (a dev dependency): every region's example
numbers, with trailing digits varied and the result checked with ``is_valid_number``.
"""

from __future__ import annotations

import string
from datetime import date, timedelta
from functools import cache

import phonenumbers
from hypothesis import strategies as st
from phonenumbers import PhoneNumber, PhoneNumberFormat, PhoneNumberType

# --- phone numbers ----------------------------------------------------------------------------

PHONE_FORMATS = {
    "E164": PhoneNumberFormat.E164,
    "INTERNATIONAL": PhoneNumberFormat.INTERNATIONAL,
    "NATIONAL": PhoneNumberFormat.NATIONAL,
}


@cache
def example_numbers() -> tuple[PhoneNumber, ...]:
    """libphonenumber's example number for every region and number type."""
    found: dict[str, PhoneNumber] = {}
    types = [v for k, v in vars(PhoneNumberType).items() if k.isupper()]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number in [phonenumbers.example_number_for_type(region, t) for t in types]:
            if number is not None:
                found[phonenumbers.format_number(number, PhoneNumberFormat.E164)] = number
    return tuple(found.values())


@st.composite
def _valid_numbers(draw: st.DrawFn) -> PhoneNumber:
    """An example number with up to four trailing digits replaced, if still valid."""
    number = draw(st.sampled_from(example_numbers()))
    national = str(number.national_number)
    k = draw(st.integers(0, min(4, len(national) - 2)))
    tail = draw(st.text(string.digits, min_size=k, max_size=k))
    varied = PhoneNumber(
        country_code=number.country_code,
        national_number=int(national[: len(national) - k] + tail),
        italian_leading_zero=number.italian_leading_zero,
    )
    return varied if phonenumbers.is_valid_number(varied) else number


def cn_mobiles() -> st.SearchStrategy[str]:
    """Mainland China mobiles as people write them: 13800138000, 138 0013 8000, +86-138-..."""
    digits = st.builds(
        lambda second, rest: "1" + second + rest,
        st.sampled_from("3456789"),
        st.text(string.digits, min_size=9, max_size=9),
    )
    layouts = st.sampled_from(
        ("{a}{b}{c}", "{a} {b} {c}", "{a}-{b}-{c}", "+86 {a} {b} {c}", "+86{a}{b}{c}", "(+86) {a}-{b}-{c}")
    )
    return st.builds(lambda d, f: f.format(a=d[:3], b=d[3:7], c=d[7:]), digits, layouts)


def phone_numbers(formats: tuple[str, ...] = ("E164", "INTERNATIONAL"), min_digits: int = 7) -> st.SearchStrategy[str]:
    """Valid numbers from any region, formatted by libphonenumber.

    The default formats start with ``+`` and are detected anywhere. NATIONAL formats are
    ambiguous for short numbers (``40123`` is also a ZIP code), which free-text detection only
    takes with a word such as "tel" nearby; ``min_digits`` filters those out.
    """
    return (
        st.tuples(_valid_numbers(), st.sampled_from(formats))
        .map(lambda pair: phonenumbers.format_number(pair[0], PHONE_FORMATS[pair[1]]))
        .filter(lambda text: sum(c.isdigit() for c in text) >= min_digits)
    )


# --- other personal data -----------------------------------------------------------------------

_LOCAL_CHARS = string.ascii_letters + string.digits + "._%+-"


def emails() -> st.SearchStrategy[str]:
    """Plausible ASCII addresses: ``first.last+tag@sub.example.co``."""
    local = st.text(_LOCAL_CHARS, min_size=1, max_size=20).filter(
        lambda s: s[0] not in ".+-" and s[-1] != "." and ".." not in s
    )
    label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)
    tld = st.text(string.ascii_lowercase, min_size=2, max_size=6)
    return st.builds(lambda lo, ls, t: f"{lo}@{'.'.join(ls)}.{t}", local, st.lists(label, min_size=1, max_size=3), tld)


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_PROVINCES = ("11", "12", "31", "32", "33", "44", "51", "61", "65")


@st.composite
def id_numbers(draw: st.DrawFn, legacy: bool = False) -> str:
    """A Chinese resident ID with a valid birth date and GB 11643 check character (maybe ``X``).

    ``legacy=True`` gives the old 15-digit form (two-digit year, no check character).
    """
    area = draw(st.sampled_from(_PROVINCES)) + draw(st.text(string.digits, min_size=4, max_size=4))
    born = date(1930, 1, 1) + timedelta(days=draw(st.integers(0, 34000)))
    seq = draw(st.text(string.digits, min_size=3, max_size=3))
    if legacy:
        return f"{area}{born:%y%m%d}{seq}"
    body = f"{area}{born:%Y%m%d}{seq}"
    total = sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def _luhn_check_digit(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:  # doubled: these positions shift by one once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str(-total % 10)


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    """A Luhn-valid card number with a real prefix, plain or grouped by four with space or dash."""
    prefix, length = draw(
        st.sampled_from(
            (
                ("4", 16),
                ("4", 13),
                ("51", 16),
                ("55", 16),
                ("2221", 16),
                ("34", 15),
                ("37", 15),
                ("6011", 16),
                ("62", 16),
                ("62", 19),
                ("35", 16),
            )
        )
    )
    free = length - len(prefix) - 1
    body = prefix + draw(st.text(string.digits, min_size=free, max_size=free))
    number = body + _luhn_check_digit(body)
    sep = draw(st.sampled_from(("", " ", "-")))
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4)) if sep else number


def usernames(max_size: int = 20) -> st.SearchStrategy[str]:
    """Latin, CJK and mixed user names (no ``*``, so a mask is always distinguishable)."""
    alphabet = st.sampled_from(string.ascii_letters + string.digits + "_." + "张王李赵刘陈杨黄三丰小明晓东伟芳")
    return st.text(alphabet, min_size=1, max_size=max_size)


# --- text that must pass through unchanged ----------------------------------------------------------

_WORDS = ("the", "parcel", "arrived", "great", "thanks", "see", "you", "on", "at", "good", "好评",
          "质量不错", "谢谢", "物流很快", "ありがとう", "спасибо", "gracias", "danke", "merci")  # fmt: skip


def filler_text(max_words: int = 8) -> st.SearchStrategy[str]:
    """Words and punctuation with no digits, ``@``, ``#`` or currency signs around."""
    piece = st.sampled_from(_WORDS) | st.sampled_from((" ", ", ", "! ", "。", "，", " - ", "\n"))
    return st.lists(piece, max_size=max_words).map("".join)


@st.composite
def ordinary_digit_text(draw: st.DrawFn) -> str:
    """One value that has digits but no personal data: a date, time, price, version..."""
    day = date(1990, 1, 1) + timedelta(days=draw(st.integers(0, 15000)))
    i = draw(st.integers(0, 10**6))
    cents = draw(st.integers(0, 99))
    choices = (
        f"{day:%Y-%m-%d}", f"{day:%d.%m.%Y}", f"{day:%m/%d/%Y}", f"{day.year}年{day.month}月{day.day}日",
        f"{day:%Y-%m-%d}T{i % 24:02d}:{i % 60:02d}:{cents % 60:02d}Z", f"{i % 24:02d}:{cents % 60:02d}",
        str(draw(st.integers(1_500_000_000, 1_999_999_999))),
        str(draw(st.integers(1_500_000_000_000, 1_999_999_999_999))),
        f"${i:,}.{cents:02d}", f"¥{i}", f"{i:,} pcs", f"{cents}.{i % 10}%", f"v{cents % 20}.{i % 30}.{i % 7}",
        f"Order #{day:%Y%m%d}-{i % 10000:04d}", f"SKU AB-{10000 + i % 90000}-X", f"INV-{day.year}-{i:06d}",
        f"{i % 256}.{cents}.{i % 200}.{(i * 7) % 256}", f"page {cents + 1} of {i % 900 + 100}", str(day.year),
    )  # fmt: skip
    return draw(st.sampled_from(choices))
