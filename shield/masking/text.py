"""Mask personal data inside free text and in bare JSON integers.

``mask_text`` returns its argument itself (``is``) when it found nothing, so a caller can tell
"unchanged" without comparing strings; most strings in an API response are unchanged.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping
from itertools import accumulate
from typing import Final

from shield.masking.detectors import MIN_CANDIDATE_LENGTH, Kind, candidate_starts, find_spans
from shield.masking.maskers import Masker, mask_bank_card, mask_email, mask_id_number, mask_phone
from shield.masking.phones import NATIONAL_LENGTHS as _NATIONAL_LENGTHS
from shield.masking.phones import country_code_of, is_cn_mobile

_MASKER_FOR: Final[Mapping[Kind, Masker]] = {
    "phone": mask_phone,
    "email": mask_email,
    "id_number": mask_id_number,
    "bank_card": mask_bank_card,
}


def mask_text(text: str, tally: Counter[str] | None = None) -> str:
    """``text`` with every phone, email, Chinese ID and card number in it masked.

    Returns ``text`` itself when there was nothing to mask. ``tally`` counts what was masked,
    by kind (for metrics).

    >>> mask_text("请联系13800138000谢谢")
    '请联系138****8000谢谢'
    """
    spans = find_spans(text)
    if not spans:
        return text
    parts: list[str] = []
    pos = 0
    for start, end, kind in spans:
        parts.append(text[pos:start])
        parts.append(_MASKER_FOR[kind](text[start:end]))
        pos = end
        if tally is not None:
            tally[kind] += 1
    parts.append(text[pos:])
    return "".join(parts)


def mask_texts(texts: list[str], tally: Counter[str] | None = None) -> dict[int, str]:
    """Mask many strings at once; returns only the changed ones, by index into ``texts``.

    One regex pass over all the strings joined by newlines (no pattern crosses one) picks the
    few that may hold personal data; only those go through ``mask_text``.
    """
    if not texts:
        return {}
    joined = "\n".join(texts)
    suspects = {m.start() for m in candidate_starts(joined) if m.end() - m.start() >= MIN_CANDIDATE_LENGTH}
    at = joined.find("@")
    while at != -1:
        suspects.add(at)
        at = joined.find("@", at + 1)
    if not suspects:
        return {}
    offsets = list(accumulate(len(t) + 1 for t in texts))  # where each text ends, plus its newline
    changed: dict[int, str] = {}
    for i in sorted({bisect_right(offsets, pos) for pos in suspects}):
        masked = mask_text(texts[i], tally)
        if masked is not texts[i]:
            changed[i] = masked
    return changed


def _is_phone_integer(digits: str) -> bool:
    """True when an 11-15 digit integer is an E.164 number stored without its ``+``.

    Unix times (10 digits, or 13 in milliseconds) start with 1 and so can only pass as an
    11-digit Chinese mobile or North American number; numbers that start with a date
    (20231124...) are order ids.
    """
    n = len(digits)
    if is_cn_mobile(digits) or (n == 13 and digits[:2] == "86" and is_cn_mobile(digits[2:])):
        return True
    if digits[0] == "1":
        return n == 11 and digits[1] in "23456789" and digits[4] in "23456789"
    if digits[:2] in ("19", "20") and digits[4:6] <= "12" and digits[6:8] <= "31":
        return False
    cc = country_code_of(digits)
    return cc != "" and n - len(cc) in _NATIONAL_LENGTHS[cc]


PHONE_INTEGERS: Final = range(10**10, 10**15)
"""The integers ``mask_integer`` looks at: 11-15 digits. ``in`` is a constant-time test for an
exact ``int`` only (for anything else ``range`` iterates)."""


def mask_integer(value: int) -> str | None:
    """The masked string for a JSON integer that is a phone number, else ``None``.

    Counts, prices, ids and unix timestamps stay numbers; 13800138000, 8613800138000 and
    447911123456 are phones.

    >>> mask_integer(13800138000), mask_integer(1700000000123)
    ('138****8000', None)
    """
    if isinstance(value, bool) or not PHONE_INTEGERS.start <= value < PHONE_INTEGERS.stop:
        return None
    digits = str(value)
    return mask_phone(digits) if _is_phone_integer(digits) else None
