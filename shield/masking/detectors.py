"""Find personal data in free text: phone numbers, emails, Chinese ID numbers, bank cards.

One regex finds every run of digits and phone separators; each run is then classified in
Python. The regex starts with a character class, so ``re`` skips text without digits at C speed,
and its lookarounds drop in C the runs Python would reject at once (short runs, ISO dates); the
judgement stays in code, where the rules are readable.

Whether a run is a phone number is decided in ``phones`` (with ``phone_context``); ID numbers
and cards are checksummed here.
"""

# ruff: noqa: RUF001  (full-width digits, parentheses and signs are matched on purpose)

from __future__ import annotations

import re
from collections.abc import Iterator
from operator import mul
from typing import Final, Literal, NamedTuple

from shield.masking.phone_context import CODE_JOINERS, code_like_prefix, is_ascii_alnum
from shield.masking.phones import PhoneRun, is_phone, valid_date

Kind = Literal["phone", "email", "id_number", "bank_card"]


class Span(NamedTuple):
    """A detected piece of personal data: ``text[start:end]`` is of ``kind``."""

    start: int
    end: int
    kind: Kind


# --- the candidate regex -------------------------------------------------------------------

_DIGIT = "0-9\uff10-\uff19"  # ASCII and full-width digits (``\d`` is slower and too broad)
_OPEN = "(\uff08"
_CLOSE = ")\uff09"
_PLUS = "+\uff0b"
# Characters that may join the digit groups of one phone number.
_JOIN = " .\\-/\u00a0\u2009\u202f\u3000\u2010-\u2013\uff0d"
_RUN_CHARS = f"{_DIGIT}{_PLUS}{_OPEN}{_CLOSE}{_JOIN}"
# An ISO-style date that ends its run ("2024-11-26T10:30:00Z", "2024-11-26,"), the commonest
# digit run in API data. It is the first branch of ``_OBVIOUSLY_NOT``, so ``_classify`` would
# reject it anyway; written as a tail checked after the first digit is consumed (1 or 2).
_ISO_DATE_TAIL = (
    r"(?:(?<=1)9|(?<=2)0)[0-9][0-9]([-./])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12][0-9]|3[01])"
    f"(?![{_RUN_CHARS}])"
)
# A run of digits and joiners. The lookarounds, checked only where a run can start (the pattern
# starts with a character class, so ``re`` skips other text in C), reject in C what Python
# would throw away: runs of fewer than five characters or digits (years, prices, counts, the
# "10" of "10:30:00"), a run inside another (the "11-26" of "2024-11-26" is never a start), and
# a whole ISO date. Every run they reject is one ``find_spans`` would have found nothing in.
_CANDIDATE: Final = re.compile(
    f"[{_DIGIT}{_PLUS}{_OPEN}](?<![{_DIGIT}].)(?<![{_DIGIT}][-./][{_DIGIT}])"
    f"(?=[{_RUN_CHARS}]{{4}})(?!{_ISO_DATE_TAIL})(?=(?:[^{_DIGIT}]{{0,2}}[{_DIGIT}]){{4}})"
    f"[{_PLUS}{_OPEN}]?[{_DIGIT}]*"
    f"(?:(?:[{_JOIN}][{_OPEN}]?|[{_CLOSE}][{_JOIN}]?|[{_OPEN}])[{_DIGIT}]+)*[{_CLOSE}]?"
)
# An ISO 8601 timestamp as APIs write it ("2023-03-05T21:15:05Z", "...:05.123+08:00"), the
# commonest digit string in JSON. ``find_spans`` finds nothing in a whole one, so a caller may
# skip it: the date is an ISO date, and the time's digits only form runs of four ("05-05" in
# "21:15:05-05:00") or runs glued to a time ("05.123" after "21:15:"), which it rejects (a test
# checks this). A ``fullmatch`` costs less than the candidate scan's stops at 14 or more digits;
# only strings of these lengths are worth one.
TIMESTAMP: Final = re.compile(
    r"(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]{3}|\.[0-9]{6})?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
TIMESTAMP_LENGTHS: Final = frozenset(19 + fraction + zone for fraction in (0, 4, 7) for zone in (0, 1, 6))
# The commonest digit runs that are never personal data, rejected before any parsing: ISO,
# European and US dates, and decimals such as prices.
_OBVIOUSLY_NOT: Final = re.compile(
    r"(?:19|20)\d\d([-./])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])([-./])(?:0?[1-9]|1[0-2])\2(?:19|20)\d\d"
    r"|(?:0?[1-9]|1[0-2])([-/])(?:0?[1-9]|[12]\d|3[01])\3(?:19|20)\d\d"
    r"|\d+\.\d{1,2}"
)
_DATE_LIKE: Final = re.compile(r"[0-9]{1,4}([./-])[0-9]{1,2}\1[0-9]{1,4}$")  # before a space
_GROUPS: Final = re.compile(f"([{_DIGIT}]+)")  # split() keeps the digit groups
ASCII_DIGITS: Final = str.maketrans("０１２３４５６７８９", "0123456789")
"""A ``str.translate`` table from full-width to ASCII digits (one character each)."""

# An email: the lookbehind makes the scan linear (a match may only start where a local part
# starts), the bounded repeats keep one match cheap.
_EMAIL: Final = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)

# --- ID numbers and cards --------------------------------------------------------------------

_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"
_ID_PROVINCES: Final = frozenset(
    str(code)
    for code in (
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
        83,
        91,
    )
)


def is_id_number(value: str) -> bool:
    """True for a Chinese resident ID: 18 chars with a GB 11643 check digit, or 15 legacy digits."""
    if value[:2] not in _ID_PROVINCES:
        return False
    if len(value) == 18 and value[:17].isdecimal():
        total = sum(map(mul, map(int, value[:17]), _ID_WEIGHTS))
        born = value[6:14]
        return _ID_CHECK[total % 11] == value[17].upper() and valid_date(
            int(born[:4]), int(born[4:6]), int(born[6:])
        ) and born[:2] in ("18", "19", "20")  # fmt: skip
    if len(value) == 15 and value.isdecimal():
        return valid_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))
    return False


_LUHN_DOUBLED: Final = {str(d): (2 * d - 9 if d > 4 else 2 * d) for d in range(10)}


def luhn_valid(digits: str) -> bool:
    """True when the ASCII ``digits`` pass the Luhn checksum used by payment cards."""
    total = sum(map(int, digits[-1::-2])) + sum(map(_LUHN_DOUBLED.__getitem__, digits[-2::-2]))
    return total % 10 == 0


_CARD_PREFIX: Final = re.compile(r"4|5[1-5]|2[2-7]|3[0-9]|6")


def _is_card(groups: list[str], seps: list[str], digits: str) -> bool:
    """13-19 digits, grouped like a card (or not at all), with a card prefix and Luhn checksum."""
    if not 13 <= len(digits) <= 19 or not _CARD_PREFIX.match(digits):
        return False
    if seps:
        if len(set(seps)) != 1 or seps[0] not in (" ", "-"):
            return False
        sizes = [len(g) for g in groups]
        fours = all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 4
        if not (fours or sizes in ([4, 6, 5], [4, 6, 4])):
            return False
    return luhn_valid(digits)


# --- the scan --------------------------------------------------------------------------------


def _parse(text: str, start: int, end: int) -> PhoneRun | None:
    """Split the candidate ``text[start:end]`` into digit groups; None if it cannot be a number."""
    raw = text[start:end]
    if raw.isdecimal():  # the common case: one plain run of digits
        digits = raw if raw.isascii() else raw.translate(ASCII_DIGITS)
        return PhoneRun(start, end, [digits], [], digits, False)
    if raw[-1] in _CLOSE or raw[0] in _OPEN:
        opened = raw.count("(") + raw.count("\uff08")
        closed = raw.count(")") + raw.count("\uff09")
        if raw[-1] in _CLOSE and closed > opened:
            end -= 1  # "(see 12345678)": the parenthesis belongs to the sentence
        elif raw[0] in _OPEN and opened > closed:
            start += 1  # "(12345678 or so"
        raw = text[start:end]
    parts = _GROUPS.split(raw)  # [lead, group, sep, group, ..., group, trail]
    lead = parts[0]
    rest = raw[len(lead) :]
    if len(lead) > 2 or "+" in rest or "\uff0b" in rest:
        return None
    groups = parts[1::2] if raw.isascii() else [g.translate(ASCII_DIGITS) for g in parts[1::2]]
    return PhoneRun(start, end, groups, parts[2:-1:2], "".join(groups), "+" in lead or "\uff0b" in lead)


def _classify(text: str, start: int, end: int) -> Span | None:  # noqa: PLR0911  (one kind per return)
    """What the digit run ``text[start:end]`` is, if it is personal data at all."""
    before = text[start - 1 : start]
    if before in ("#", "＃"):
        return None  # "#20231124-0042"
    if not text[start:end].isdecimal() and (
        _OBVIOUSLY_NOT.fullmatch(text, start, end)
        or (start > 1 and before in CODE_JOINERS and is_ascii_alnum(text[start - 2]) and text[start] not in _PLUS)
    ):
        return None  # a date, a decimal, or the tail of a code: INV-2024-000123
    run = _parse(text, start, end)
    if run is None or len(run.digits) < 5:
        return None
    start, end, groups, seps, digits, plus = run
    if plus:
        return Span(start, end, "phone") if is_phone(text, run) else None
    # An 18-character ID is checksummed, so it wins over a card and may touch letters ("身份证号",
    # "the"); a 15-digit legacy ID is not, so a Luhn-valid card of that length stays a card, and
    # glued to a code it is more likely a tracking number.
    is_card = _is_card(groups, seps, digits) and not _glued_to_code(text, start, end)
    id_end = end + 1 if len(digits) == 17 and text[end : end + 1] in ("X", "x") else end
    legacy = len(digits) == 15 and not is_card and not _glued_to_code(text, start, end)
    if (
        not seps
        and (len(digits) == 18 or id_end > end or legacy)
        and is_id_number(text[start:id_end].translate(ASCII_DIGITS).upper())
    ):
        return Span(start, id_end, "id_number")
    if is_card:
        return Span(start, end, "bank_card")
    return Span(start, end, "phone") if is_phone(text, run) else None


def _glued_to_code(text: str, start: int, end: int) -> bool:
    """True when ``text[start:end]`` is part of a code: ``SF1234...``, ``A1B2...``, ``...99X1``.

    A lower-case word glued on ("the4111...") or CJK text around the number is no code.
    """
    before, after = text[start - 1 : start], text[end : end + 1]
    if before.isascii() and before.isalpha() and code_like_prefix(text, start):
        return True
    return after.isascii() and (after.isdecimal() or after.isupper())


# A candidate shorter than this holds fewer than five digits: it cannot leak a number.
MIN_CANDIDATE_LENGTH: Final = 5


def candidate_starts(text: str) -> Iterator[re.Match[str]]:
    """Every run of ``text`` that ``find_spans`` would look at more closely (a superset)."""
    return _CANDIDATE.finditer(text)


_MAX_PHONE_DIGITS = 15  # E.164: a longer run holds several numbers or none
_MAX_PIECES = 6  # groups of one number: "+33 6 12 34 56 78"
_MIN_SPLIT_DIGITS = 7  # a number found by splitting stands without a phone word: no short ones


def _digit_count(text: str, start: int, end: int) -> int:
    return sum(1 for c in text[start:end] if c.isdecimal())


def _split_run(text: str, start: int, end: int) -> list[Span]:
    """Numbers side by side ("13800138000 13900139000") join into one run too long to be a
    phone: try the space-separated pieces, longest window first, left to right."""
    pieces: list[tuple[int, int]] = []
    position = start
    for part in text[start:end].split(" "):
        if part:
            pieces.append((position, position + len(part)))
        position += len(part) + 1
    if all(b - a == 4 for a, b in pieces):
        return []  # "4111 1111 1111 1112": a card's grouping; Luhn already said it is none
    digits = [_digit_count(text, a, b) for a, b in pieces]
    found: list[Span] = []
    i = 0
    while i < len(pieces):
        for k in range(min(len(pieces), i + _MAX_PIECES), i, -1):
            # Only windows shaped like one number are classified, so an adversarial list of
            # single digits ("1 2 3 4 ...") costs a few additions per piece, not a parse.
            window = digits[i:k]
            if not _MIN_SPLIT_DIGITS <= sum(window) <= _MAX_PHONE_DIGITS or window.count(1) > 1:
                continue
            span = _classify(text, pieces[i][0], pieces[k - 1][1])
            if span is not None:
                found.append(span)
                i = k
                break
        else:
            i += 1
    return found


def find_spans(text: str) -> list[Span]:
    """Every phone number, email, Chinese ID number and bank card in ``text``, in order.

    >>> find_spans("请联系13800138000谢谢")
    [Span(start=3, end=14, kind='phone')]
    """
    spans: list[Span] = []
    if "@" in text:
        spans.extend(Span(m.start(), m.end(), "email") for m in _EMAIL.finditer(text))
    taken = len(spans)
    email = 0  # emails and candidates both come in text order: one moving pointer, linear
    for m in _CANDIDATE.finditer(text):
        start, end = m.span()
        while email < taken and spans[email].end <= start:
            email += 1
        if end - start < MIN_CANDIDATE_LENGTH or (email < taken and spans[email].start < end):
            continue  # too short to hold five digits, or inside an email
        span = _classify(text, start, end)
        if (
            span is None
            and (space := text.find(" ", start + 1, end - 5)) != -1
            and _DATE_LIKE.match(text, start, space)
        ):
            # "2024-11-26 020 7946 0018": the date sank the run, the phone after it may not
            span = _classify(text, space + 1, end)
        if span is not None:
            spans.append(span)
        elif _digit_count(text, start, end) > _MAX_PHONE_DIGITS:
            spans.extend(_split_run(text, start, end))
    if taken:
        spans.sort()
    return spans
