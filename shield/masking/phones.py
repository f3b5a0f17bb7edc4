"""Decide whether a digit run in free text is a phone number.

The rules were tuned on ``tests/corpus/`` and are measured on its ``heldout`` split
(``python -m benchmarks.accuracy``; figures in ``tests/corpus/README.md``). In short: a ``+``
number is a phone; a national number needs 7-15 digits and must not look like a date, time, IP
address, decimal, thousands grouping, unix timestamp, ISBN or ZIP code; code-like neighbours,
currency signs and veto words in the same clause rule it out, and words that vouch for a phone
are required for 5-6 digit numbers and plain 7-8 digit runs, which are as often counts, prices
or postcodes (see ``phone_context``).
"""

from __future__ import annotations

from datetime import date
from typing import Final, NamedTuple

from shield.masking.phone_context import has_negative, has_positive, neighbour_veto

# Country calling code -> possible lengths of the national significant number, from
# libphonenumber metadata (mobile and fixed line). Copied here because shield must not import
# phonenumbers at runtime; regenerate with ``benchmarks/build_phone_corpus.py --country-codes``.
_NATIONAL_LENGTHS_TABLE: Final = (
    "1:10 7:10 20:8,9,10 27:5,6,7,8,9 30:10 31:9,11 32:8,9 33:9 34:9 36:8,9 39:6,7,8,9,10,11,12 "
    "40:6,9 41:9 43:4,5,6,7,8,9,10,11,12,13 44:9,10 45:8 46:7,8,9 47:8 48:7,9 "
    "49:5,6,7,8,9,10,11,12,13,14,15 51:8,9 52:10 53:6,7,8,10 54:10,11 55:10,11 56:9 57:8,10 "
    "58:10 60:8,9,10 61:9 62:7,8,9,10,11,12 63:6,8,9,10 64:8,9,10 65:8 66:8,9 81:9,10 "
    "82:5,6,8,9,10 84:9,10 86:7,8,9,10,11 90:10 91:10 92:9,10 93:9 94:9 95:6,7,8,9,10 "
    "98:6,7,10 211:9 212:9 213:8,9 216:8 218:9 220:7,9 221:9 222:8 223:8 224:8,9 225:10 226:8 "
    "227:8 228:8 229:10 230:7,8 231:7,8,9 232:8 233:9 234:10 235:8 236:8 237:9 238:7 239:7 "
    "240:9 241:7,8 242:9 243:7,8,9,10 244:9 245:9 246:7 247:5 248:7 249:9 250:8,9 251:9 "
    "252:6,7,8,9 253:8 254:7,8,9 255:9 256:9 257:8 258:8,9 260:9 261:9 262:9 263:9 264:8,9 "
    "265:7,9 266:8 267:7,8 268:8 269:7 290:4,5 291:7 297:7 298:6 299:6 350:8 351:9 352:4,5,6,"
    "7,8,9,10,11 353:7,8,9,10 354:7,9 355:8,9 356:8 357:8 358:5,6,7,8,9,10 359:6,7,8,9 370:8 "
    "371:8 372:7,8 373:8 374:8 375:9 376:6,9 377:8,9 378:8,10 380:9 381:7,8,9,10,11,12 382:8 "
    "383:8,9,10,11,12 385:8,9 386:8 387:8,9 389:8 420:9 421:6,7,9 423:7,9 500:5 501:7 502:8 "
    "503:8 504:8 505:8 506:8 507:7,8 508:6,9 509:8 590:9 591:8 592:7 593:8,9 594:9 595:7,8,9 "
    "596:9 597:6,7 598:8 599:7,8 670:7,8 672:6 673:7 674:7 675:7,8 676:5,7 677:5,7 678:5,7 "
    "679:7 680:7 681:6 682:5 683:4,7 685:5,6,7,10 686:5,8 687:6 688:5,6,7 689:8 690:4,5,6,7 "
    "691:7 692:7 800:8 808:8 850:8,10 852:8 853:8 855:8,9 856:8,9,10 870:9,12 878:12 "
    "880:6,7,8,9,10 881:9,10 882:7,8,9,10,12 883:8,9,10,11,12 886:8,9 888:11 960:7 961:7,8 "
    "962:8,9 963:8,9 964:8,9,10 965:8 966:9 967:7,8,9 968:8 970:8,9 971:8,9 972:8,9,11,12 "
    "973:8 974:8 975:7,8 976:8,9,10 977:8,10 979:9 992:9 993:8 994:9 995:9 996:9 998:9"
)
NATIONAL_LENGTHS: Final[dict[str, frozenset[int]]] = {
    cc: frozenset(int(n) for n in lengths.split(","))
    for cc, _, lengths in (item.partition(":") for item in _NATIONAL_LENGTHS_TABLE.split())
}


def country_code_of(digits: str) -> str:
    """The calling code ``digits`` (an international number without ``+``) starts with, or "".

    Calling codes form a prefix code (ITU E.164), so at most one prefix matches.
    """
    for size in (1, 2, 3):
        if digits[:size] in NATIONAL_LENGTHS:
            return digits[:size]
    return ""


def is_cn_mobile(digits: str) -> bool:
    """True for an 11-digit mainland China mobile number (``1[3-9]`` then 9 digits)."""
    return len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789"


# --- shapes ----------------------------------------------------------------------------------


def valid_date(year: int, month: int, day: int) -> bool:
    """True when the numbers form a real calendar date (a date-shaped run is no phone)."""
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _is_date(a: str, b: str, c: str) -> bool:
    """``a-b-c`` reads as a date with a four-digit year: Y-M-D, D.M.Y or M/D/Y."""
    if len(a) == 4 and len(b) <= 2 and len(c) <= 2:
        return valid_date(int(a), int(b), int(c))
    if len(c) == 4 and len(a) <= 2 and len(b) <= 2:
        year = int(c)
        return valid_date(year, int(b), int(a)) or valid_date(year, int(a), int(b))
    return False


def _is_short_date(groups: list[str], seps: list[str]) -> bool:
    """``dd.mm.yy`` or ``mm/dd/yy``: a date, unless a word nearby says it is a phone number."""
    return (
        len(seps) == 2
        and seps[0] == seps[1]
        and seps[0] in (".", "/")
        and all(len(g) == 2 for g in groups)
        and any(valid_date(2000 + int(groups[2]), int(m), int(d)) for d, m in (groups[:2], groups[1::-1]))
    )


def _starts_with_date(digits: str) -> bool:
    """``digits`` begins with a plausible YYYYMMDD (order numbers such as 20231124-0042)."""
    return (
        len(digits) >= 8
        and digits[:2] in ("19", "20")
        and valid_date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    )


def _has_dotted(groups: list[str], seps: list[str]) -> bool:
    """A dotted quad (IPv4), or a single dot among spaces (a decimal: 1990 12.5)."""
    if seps.count(".") == 1 and " " in seps:
        return True
    return any(
        seps[i : i + 3] == [".", ".", "."] and max(map(len, groups[i : i + 4])) <= 3 for i in range(len(seps) - 2)
    )


def _plain_shape_veto(digits: str) -> bool:
    """True when an unseparated run is a unix time, an ISBN-13 or starts with a YYYYMMDD date."""
    n = len(digits)
    if digits[0] == "1" and n in (10, 13):
        return True  # unix time in seconds or milliseconds
    return (n == 13 and digits[:3] in ("978", "979")) or _starts_with_date(digits)


def _grouped_shape_veto(groups: list[str], seps: list[str]) -> bool:  # noqa: PLR0911, PLR0912  (one rule per return)
    """True when the digit groups form a date, IP, decimal, thousands, version, list or ZIP."""
    joined = "".join(seps)
    sizes = [len(g) for g in groups]
    if "-" in joined or "." in joined or "/" in joined:
        for i in range(len(groups) - 2):
            sep = seps[i].strip()
            if sep and sep == seps[i + 1].strip() and _is_date(*groups[i : i + 3]):
                return True
        if len(groups) == 2:
            if joined == "/" and groups[0][0] != "0":
                return True  # a fraction or page reference: 37/618
            if joined == "-" and sizes[0] == 5 and sizes[1] in (3, 4):
                return True  # a US ZIP+4 or a Brazilian CEP
        if "." in joined and _has_dotted(groups, seps):
            return True  # an IP address or a decimal inside a longer run: 1990 10.0.10.70
        if joined == "." * len(seps):
            if len(groups) == 2 or (len(groups) == 4 and max(sizes) <= 3):
                return True  # a decimal or an IPv4 address
            if 1 in sizes:
                return True  # a version such as 10.0.19045.3693
    longest = max(sizes)
    if longest >= 8 and _starts_with_date(groups[0]):
        return True  # an order number: 20231124-0042
    if longest >= 10 and groups[0][0] != "0" and any(len(g) in (10, 13) and g[0] == "1" for g in groups):
        return True  # a unix time next to another number: 1700000000 1990 (but 0800 1234567890)
    if longest == 4 == min(sizes) and all(g[:2] in ("19", "20") for g in groups):
        return True  # years: 2021 2022 2023, 2019-2024
    if len(groups) >= 3 and sizes[0] <= 3 and not joined.strip(".\u00a0\u2009\u202f") and set(sizes[1:]) == {3}:
        return True  # 1.234.567, or 1 234 567 with a no-break or thin space
    return 1 in sizes and 2 * sizes.count(1) > len(sizes)  # a list of small numbers


def _is_cn_mobile_run(groups: list[str], seps: list[str], digits: str) -> bool:
    """A Chinese mobile, plain (13800138000, 8613800138000) or grouped 3-4-4: specific enough
    to need no context at all."""
    if not seps:
        return is_cn_mobile(digits) or (len(digits) == 13 and digits[:2] == "86" and is_cn_mobile(digits[2:]))
    return is_cn_mobile(digits) and len(groups) == 3 and len(groups[1]) == 4 and seps[0] == seps[1] in (" ", "-")


class PhoneRun(NamedTuple):
    """A candidate run of digits, parsed: ``text[start:end]`` has digit ``groups`` and ``seps``."""

    start: int
    end: int
    groups: list[str]
    seps: list[str]  # what joins each pair of groups: " ", "-", ") "...
    digits: str  # the groups joined, as ASCII
    plus: bool  # written with a leading "+"


def is_phone(text: str, run: PhoneRun) -> bool:
    """Decide whether ``run`` in ``text`` is a phone number."""
    start, end, groups, seps, digits, plus = run
    n = len(digits)
    if plus:
        return 6 <= n <= 15 and country_code_of(digits) != "" and not neighbour_veto(text, start, end, plus)
    if n > 15:
        return False
    if _is_cn_mobile_run(groups, seps, digits):
        return not neighbour_veto(text, start, end, plus)
    vetoed = _grouped_shape_veto(groups, seps) if seps else _plain_shape_veto(digits)
    if vetoed or neighbour_veto(text, start, end, plus):
        return False
    # Short numbers, plain 7-8 digit runs without a trunk 0 (counts, amounts) and dd.mm.yy
    # shapes are phones only when a word nearby says so.
    ambiguous = n < 7 or (not seps and n <= 8 and digits[0] != "0") or _is_short_date(groups, seps)
    if ambiguous:
        return has_positive(text, start, end, short=True) and not has_negative(text, start)
    return has_positive(text, start, end, short=False) or not has_negative(text, start)
