"""Value maskers: each turns one string into its masked form and accepts any string.

A field rule may point at a value of any shape, so no masker assumes its input is well formed:
a value that does not look like its kind is masked more, never less. The same function masks a
number found in free text (``mask_text``) and a number in a field, so one value always gets one
masked form and two responses can never be combined to rebuild it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from shield.masking.detectors import ASCII_DIGITS as _ASCII_DIGITS
from shield.masking.phones import country_code_of, is_cn_mobile

Masker = Callable[[str], str]

REDACTED: Final = "[redacted]"
_STARS: Final = "***"
# Never reveal this many original digits in a row, even with the mask stripped out.
_MAX_RUN: Final = 5


_DIGIT: Final = re.compile(r"\d")
_LETTER: Final = re.compile(r"[^\W\d_]")
_ASCII_NON_DIGITS: Final = bytes(c for c in range(128) if not chr(c).isdecimal())  # bytes.translate deletes these
_STAR_ASCII_DIGITS: Final = bytes.maketrans(b"0123456789", b"**********")
_LEAD: Final = " +(\uff0b\uff08"  # what may open a phone number before its first digit


def _reveal(value: str, digits: str, keep: tuple[int, int]) -> str:
    """Mask every letter and digit of ``value`` except digits ``[0, a)`` and ``[b, n)``.

    ``digits`` are the digits of ``value`` and ``keep`` is ``(a, b)``. Separators and
    punctuation stay, so the masked value keeps its format.
    """
    a, b = keep
    if a >= b:
        masked = value
    elif value.isdecimal():
        masked = value[:a] + "*" * (b - a) + value[b:]
    else:
        # Only digits in value[lo:hi] are starred, so any lo after digit a - 1 and up to digit a
        # will do (likewise hi): when the kept digits open or close the value unseparated, as
        # in "138 0013 8000" or after a lead such as "+" or "(", the offsets are known without
        # a walk over the characters.
        number = value.lstrip(_LEAD)
        lead = len(value) - len(number)  # value[:lead] holds no digit
        lo = lead + a if number.startswith(digits[:a]) else _offset_of_digit(value, a)
        kept_tail = len(digits) - b
        hi = len(value) - (kept_tail if value.endswith(digits[b:]) else _offset_of_digit(value[::-1], kept_tail))
        middle = value[lo:hi]
        # bytes.translate is the fast path; full-width digits and those of other scripts use \d
        starred = (
            middle.encode().translate(_STAR_ASCII_DIGITS).decode() if middle.isascii() else _DIGIT.sub("*", middle)
        )
        masked = value[:lo] + starred + value[hi:]
    if masked.isascii() and masked.lower() == masked.upper():
        return masked  # no letters: the usual case, skip the regex
    return _LETTER.sub("*", masked)


def _offset_of_digit(value: str, k: int) -> int:
    """Where the ``k``-th (0-based) digit of ``value`` is."""
    for i, c in enumerate(value):
        if c.isdecimal():
            if not k:
                return i
            k -= 1
    raise ValueError(k)  # unreachable: callers pass k < number of digits


def _safe_keep(digits: str, heads: tuple[int, ...], tail: int) -> tuple[int, int]:
    """The most revealing ``(a, b)`` for ``_reveal`` that shows no ``_MAX_RUN`` digit run.

    Tries each head length with ``tail`` trailing digits, then the last head with fewer trailing
    digits. The kept digits are checked read together, as a scraper stripping the mask would.
    """
    n = len(digits)
    for head in heads:
        if head + tail <= n and not _shows_run(digits, digits[:head] + digits[n - tail :]):
            return head, n - tail
    head = heads[-1]
    for t in range(tail - 1, -1, -1):
        if head + t <= n and not _shows_run(digits, digits[:head] + digits[n - t :]):
            return head, n - t
    return 0, n


def _shows_run(digits: str, shown: str) -> bool:
    """True when ``shown`` contains ``_MAX_RUN`` consecutive digits of ``digits``.

    A plain loop: this runs for every masked number, and ``any()`` over a generator costs
    twice as much for the two or three windows of a phone.
    """
    for i in range(len(shown) - _MAX_RUN + 1):  # noqa: SIM110  (any() over a generator is slower)
        if shown[i : i + _MAX_RUN] in digits:
            return True
    return False


def _digits(value: str) -> str:
    """The digits of ``value``, full-width ones as ASCII (one character each, positions hold)."""
    if value.isdecimal():
        digits = value
    elif value.isascii():
        digits = value.encode().translate(None, _ASCII_NON_DIGITS).decode()
    else:
        digits = "".join(filter(str.isdecimal, value))
    return digits if digits.isascii() else digits.translate(_ASCII_DIGITS)


def mask_phone(value: str) -> str:
    """Keep a ``+CC`` country code and the last 4 digits; a Chinese mobile also keeps its first 3.

    A short number shows fewer trailing digits, and no masked number shows five of its digits
    in a row even with the mask stripped out ("+1 415-551-1234" keeps only "234").

    >>> mask_phone("13812345678")
    '138****5678'
    >>> mask_phone("+44 7911 123456")
    '+44 **** **3456'
    """
    plain = value.isdecimal()
    if plain and len(value) == 11 and value.isascii() and is_cn_mobile(value):
        # The most common value by far, and what the general path below gives: the first 3 and
        # last 4 digits, or only the last 4 (too few for a run) when those 7 would show one.
        head, tail = value[:3], value[7:]
        return "*******" + tail if _shows_run(value, head + tail) else head + "****" + tail
    digits = _digits(value)
    n = len(digits)
    if n == 13 and digits[:2] == "86" and is_cn_mobile(digits[2:]):
        prefix = 2  # +86, or E.164 without the plus as integers store it
    elif not plain and value.lstrip(" (\uff08")[:1] in ("+", "\uff0b"):
        prefix = len(country_code_of(digits))
    else:
        prefix = 0
    national = n - prefix
    shown_tail = 4 if national >= 8 else max(0, national - 4)  # min(4, max(0, ...)) in one call at most
    if prefix in (0, 2) and is_cn_mobile(digits[prefix:]):
        heads: tuple[int, ...] = (prefix + 3, prefix)
    else:
        heads = (prefix,)
    return _reveal(value, digits, _safe_keep(digits, heads, shown_tail))


def mask_bank_card(value: str) -> str:
    """Keep only the last 4 digits of a card number (none if it is too short to be one).

    >>> mask_bank_card("4111 1111 1111 1111")
    '**** **** **** 1111'
    """
    digits = _digits(value)
    return _reveal(value, digits, _safe_keep(digits, (0,), 4 if len(digits) >= 12 else 0))


def mask_id_number(value: str) -> str:
    """Keep the first 3 (region) and last 4 characters of a Chinese ID number; hide the birthday.

    >>> mask_id_number("11010519491231002X")
    '110***********002X'
    """
    if value.isalnum():  # the usual case: no separators
        return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) >= 15 else "*" * len(value)
    chars = [c for c in value if c.isalnum()]
    if len(chars) < 15:
        return "".join("*" if c.isalnum() else c for c in value)
    head, tail = 3, 4
    out: list[str] = []
    index = 0
    for c in value:
        if c.isalnum():
            out.append(c if index < head or index >= len(chars) - tail else "*")
            index += 1
        else:
            out.append(c)
    return "".join(out)


def mask_username(value: str) -> str:
    """First character, ``***``, last character; values of 4 characters or fewer show only one.

    Works on characters, so CJK names mask as well as Latin ones. The fixed ``***`` hides the
    length.

    >>> mask_username("test1"), mask_username("张三丰")
    ('t***1', '张***')
    """
    n = len(value)
    if n > 4:
        return f"{value[0]}{_STARS}{value[-1]}"  # one f-string: one allocation
    return value[0] + _STARS if n > 1 else _STARS


def mask_email(value: str) -> str:
    """Keep the first character of the local part and the whole domain.

    >>> mask_email("alice@example.com")
    'a***@example.com'
    """
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        return _STARS
    return f"{local[0]}{_STARS}@{domain}"


def redact(value: str) -> str:
    """Replace the whole value with a fixed marker."""
    del value
    return REDACTED


def make_hasher(key: bytes) -> Masker:
    """A masker that replaces a value with a keyed pseudonym (``h_`` + 16 base32 characters).

    The same value always maps to the same pseudonym under one key, so clients can still group
    and join on it, but without the key it cannot be reversed or brute-forced from a phone book.

    >>> make_hasher(b"k" * 32)("13812345678")[:2]
    'h_'
    """
    if not isinstance(key, bytes) or not key:
        raise ValueError("hash masker key must be non-empty bytes")

    def hash_value(value: str) -> str:
        mac = hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        return "h_" + base64.b32encode(mac[:10]).decode("ascii").lower()

    return hash_value


MASKERS: Final[Mapping[str, Masker]] = MappingProxyType(
    {
        "phone": mask_phone,
        "username": mask_username,
        "email": mask_email,
        "id_number": mask_id_number,
        "bank_card": mask_bank_card,
        "redact": redact,
    }
)
"""The maskers that need no configuration, by the name a policy uses."""

MASKER_KINDS: Final = ("phone", "username", "email", "id_number", "bank_card", "redact", "drop", "hash")
"""Every masker name a policy may use; ``drop`` and ``hash`` are applied by the caller."""
