"""Find personal data in free text: phone numbers, emails, Chinese ID numbers, bank cards.

One regex finds every run of digits and phone separators; each run is then classified in
Python. Keeping the regex dumb (it starts with a character class, so ``re`` skips text without
digits at C speed) and the judgement in code is what makes the no-match case cost about a
microsecond while the rules stay readable.

The phone rules were tuned on ``tests/corpus/`` and are measured on its ``heldout`` split
(``python -m benchmarks.accuracy``; figures in ``tests/corpus/README.md``). In short: a ``+``
number is a phone; a national number needs 7-15 digits and must not look like a date, time, IP
address, decimal, thousands grouping, unix timestamp, ISBN or ZIP code; code-like neighbours
(``#``, ``INV-``, ``SKU``, ``1Z999AA``), currency signs and, in the same clause, words such as
"order" or "运单" veto it; words such as "tel" or "电话" vouch for it, and are required for
5-6 digit numbers and plain 7-8 digit runs, which are as often counts, prices or postcodes.
"""

# ruff: noqa: RUF001  (the keyword lists are CJK, Cyrillic and full-width text on purpose)

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from operator import mul
from typing import Final, Literal, NamedTuple

Kind = Literal["phone", "email", "id_number", "bank_card"]


class Span(NamedTuple):
    """A detected piece of personal data: ``text[start:end]`` is of ``kind``."""

    start: int
    end: int
    kind: Kind


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


# --- the candidate regex -------------------------------------------------------------------

_DIGIT = "0-9\uff10-\uff19"  # ASCII and full-width digits (``\d`` is slower and too broad)
_OPEN = "(\uff08"
_CLOSE = ")\uff09"
_PLUS = "+\uff0b"
# Characters that may join the digit groups of one phone number.
_JOIN = " .\\-/\u00a0\u2009\u202f\u3000\u2010-\u2013\uff0d"
# A run of digits and joiners. The lookarounds, checked only where a run can start, skip runs
# of fewer than five digits (years, prices, counts) without a trip to Python, and never start a
# run in the middle of another.
_CANDIDATE: Final = re.compile(
    f"[{_DIGIT}{_PLUS}{_OPEN}](?<![{_DIGIT}].)(?=(?:[^{_DIGIT}]{{0,2}}[{_DIGIT}]){{4}})"
    f"[{_PLUS}{_OPEN}]?[{_DIGIT}]*"
    f"(?:(?:[{_JOIN}][{_OPEN}]?|[{_CLOSE}][{_JOIN}]?|[{_OPEN}])[{_DIGIT}]+)*[{_CLOSE}]?"
)
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

# --- context ---------------------------------------------------------------------------------

_WINDOW = 32


class _Words:
    """A keyword list searched with one regex.

    Keywords match as word prefixes ("bestell" finds "Bestellung"); a trailing ``$`` asks for
    the whole word ("pin$" must not find "ping"). Every alternative starts with a literal, so
    ``re`` jumps between possible first characters in C; a leading ``\\b`` would make it try
    every alternative at every position, ten times slower. Word starts and ends are checked
    here, for Latin and Cyrillic keywords only (CJK has no spaces to check).
    """

    def __init__(self, words: str) -> None:
        items = {w.rstrip("$").replace("_", " "): w.endswith("$") for w in words.split()}
        self._whole = {w for w, whole in items.items() if whole}
        alternatives = sorted(items, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, alternatives)))

    def found_in(self, window: str) -> bool:
        for m in self._pattern.finditer(window):
            word, i, j = m.group(), m.start(), m.end()
            if word[0] >= "\u0530":
                return True
            if (i == 0 or not window[i - 1].isalpha()) and (
                word not in self._whole or j == len(window) or not window[j].isalpha()
            ):
                return True
        return False


# Words that vouch for a phone number nearby (lower case, matched as word prefixes).
_POSITIVE: Final = _Words(
    "tel phone mobile cell call ring sms$ text_me whatsapp viber telegram fax hotline dial contact "
    "reach telef tél llam llám móvil movil celular contato contacto ligue liga handy anruf ruf "
    "erreichbar kontakt appel portable joindre chiam cellulare contatt telp hubungi hp$ gọi "
    "điện_thoại liên_hệ ara$ arayın numaras тел звон позвон моб связ 电话 手机 联系 致电 拨打 来电 "
    "热线 座机 微信 打 電話 携帯 連絡 問合 問い合わせ 전화 연락 휴대폰 핸드폰 هاتف اتصل جوال موبايل "
    "تواصل फ़ोन फोन कॉल मोबाइल संपर्क โทร"
)
# "Number" alone: enough for a short or date-like number, not to overrule a veto word.
_NUMBER_WORD: Final = _Words("number numero número numéro nummer numara номер nomor số 号码 番号 번호 رقم नंबर")
# Words that say a number is something else: an order, a price, a version, a postcode...
_NEGATIVE: Final = _Words(
    "order sku$ inv$ tracking track shipment parcel waybill awb$ ref$ id$ serial isbn issn ticket "
    "booking reservation confirmation pin$ otp$ version build release zip$ postal postcode iban "
    "swift transaction txn$ receipt batch lot$ item article product qty$ quantity total amount "
    "price balance sum$ page views likes followers population ups$ fedex dhl$ usps ems$ pedido "
    "factura seguimiento envío referencia precio importe fatura rastreamento cep$ preço bestell "
    "rechnung sendung artikel plz$ preis summe betrag auftrag commande facture suivi colis réf "
    "prix montant ordine fattura spedizione prezzo sipariş kargo takip fiyat đơn_hàng hóa_đơn "
    "giá$ pesanan faktur resi$ harga заказ накладн трек счёт счет артикул индекс цена итого сумма "
    "версия 订单 单号 编号 运单 快递 物流 发票 工单 流水 序列号 批次 型号 货号 邮编 邮政 版本 金额 "
    "价格 合计 总计 余额 数量 库存 阅读 浏览 粉丝 页 注文 伝票 追跡 請求 郵便 価格 合計 品番 型番 주문 "
    "송장 우편 가격 합계 طلب فاتورة شحنة تتبع سعر الإصدار ऑर्डर चालान ट्रैकिंग कीमत मूल्य"
)
_CLAUSE_END: Final = re.compile(r"[?!;,\n。！？；，、]")
# A label right before the number: "No.", "Nr", "#", "№".
# A label or a currency right before the number: "No.", "Nr", "#", "№", "USD ", "€".
_LABEL_BEFORE: Final = re.compile(
    r"(?:(?:\bno|\bnr|\bn[°º]|№|#|＃)\s*[.:：]?|[$€£¥￥₹₽₩₺₫฿]|\b(?:usd|eur|cny|rmb|jpy|gbp|rub|inr|krw|hkd|chf))\s*$"
)
_CURRENCY_SIGNS = "$€£¥￥₹₽₩₺₫฿"
_UNIT_AFTER: Final = re.compile(
    r"\s?(?:[%‰$€£¥￥₹₽₩₺₫฿元円]|(?:usd|eur|cny|rmb|jpy|gbp|rub|inr|krw|hkd|chf|руб|р\.|dollars?|"
    r"euros?|yuan|pcs|px|kb|mb|gb|tb|kg|km|ms|mm|cm|hz|khz|mhz|ghz|st|nd|rd|th|x|k)\b|"
    r"[件個个台次人位名条張张本冊册枚只份篇頁页年月日号號歳岁])",
    re.IGNORECASE,
)
_UNIT_START: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZрР%‰$€£¥￥₹₽₩₺₫฿元円件個个台次人位名条張张本冊册枚只份篇頁页年月日号號歳岁"
)
_CODE_JOINERS = "-_/\\=&"


def _neighbour_veto(text: str, start: int, end: int, plus: bool) -> bool:  # noqa: PLR0911  (one rule per return)
    """True when the characters around ``text[start:end]`` say it is not a phone number."""
    after = text[end : end + 8]
    if after.lstrip(" ")[:1] in _UNIT_START and _UNIT_AFTER.match(after):
        return True
    if plus:
        return False
    before = text[start - 1] if start else " "
    if before in "#＃№〒@" or before in _CURRENCY_SIGNS:
        return True
    prev2 = text[start - 2] if start > 1 else " "
    if before in _CODE_JOINERS and _is_ascii_alnum(prev2):
        return True  # INV-2024-000123, /orders/12345678, ?id=12345678
    if before in ".,:" and prev2.isdecimal():
        return True  # the tail of a bigger number or a time: 1,234567890 or 10:30 1700000000
    if before.isascii() and before.isalpha() and _code_like_prefix(text, start):
        return True
    next1, next2 = after[:1], after[1:2]
    if next1.isascii() and next1.isupper():
        return True  # 12345678X, 2024-11-26T10
    if next1 in (":", ",") and next2.isdecimal():
        return True  # a time (10:30) or more of a number (1 234 567,89)
    return next1 in ("-", "_") and next2.isascii() and next2.isalnum()


def _code_like_prefix(text: str, start: int) -> bool:
    """True when the letters glued to the number look like a code (``SF``, ``1Z999AA``)."""
    i, stop = start, max(0, start - _WINDOW)
    while i > stop and text[i - 1].isascii() and text[i - 1].isalpha():
        i -= 1
    token = text[i:start]
    if len(token) > 2 and _POSITIVE.found_in(token.lower()):
        return False  # Tel02079460018, WhatsApp991 12 34 (but HP4508861 is a code)
    glued = i > 0 and ((text[i - 1].isascii() and text[i - 1].isalnum()) or text[i - 1] in "-_")
    return glued or len(token) == 1 or not token[1:].islower()


def _has_positive(text: str, start: int, end: int, *, short: bool) -> bool:
    """A word that vouches for a phone number before it (or, for ``short`` numbers, after it)."""
    window = text[max(0, start - _WINDOW) : start]
    if short:
        window = (window + " " + text[end : end + _WINDOW]).lower()
        return _POSITIVE.found_in(window) or _NUMBER_WORD.found_in(window)
    return _POSITIVE.found_in(window.lower())


def _has_negative(text: str, start: int) -> bool:
    """A word before the number, in the same clause, that says it is an order, a price..."""
    window = text[max(0, start - _WINDOW) : start].lower()
    if _LABEL_BEFORE.search(window[-8:]):
        return True
    clause = _CLAUSE_END.split(window)[-1]  # "Questions about the booking? 020 7946 0018"
    return _NEGATIVE.found_in(clause)


# --- shapes ----------------------------------------------------------------------------------


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _is_date(a: str, b: str, c: str) -> bool:
    """``a-b-c`` reads as a date with a four-digit year: Y-M-D, D.M.Y or M/D/Y."""
    if len(a) == 4 and len(b) <= 2 and len(c) <= 2:
        return _valid_date(int(a), int(b), int(c))
    if len(c) == 4 and len(a) <= 2 and len(b) <= 2:
        year = int(c)
        return _valid_date(year, int(b), int(a)) or _valid_date(year, int(a), int(b))
    return False


def _is_short_date(groups: list[str], seps: list[str]) -> bool:
    """``dd.mm.yy`` or ``mm/dd/yy``: a date, unless a word nearby says it is a phone number."""
    return (
        len(seps) == 2
        and seps[0] == seps[1]
        and seps[0] in (".", "/")
        and all(len(g) == 2 for g in groups)
        and any(_valid_date(2000 + int(groups[2]), int(m), int(d)) for d, m in (groups[:2], groups[1::-1]))
    )


def _starts_with_date(digits: str) -> bool:
    """``digits`` begins with a plausible YYYYMMDD (order numbers such as 20231124-0042)."""
    return (
        len(digits) >= 8
        and digits[:2] in ("19", "20")
        and _valid_date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
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


class _Run(NamedTuple):
    """A candidate run of digits, parsed: ``text[start:end]`` has digit ``groups`` and ``seps``."""

    start: int
    end: int
    groups: list[str]
    seps: list[str]  # what joins each pair of groups: " ", "-", ") "...
    digits: str  # the groups joined, as ASCII
    plus: bool  # written with a leading "+"


def _is_phone(text: str, run: _Run) -> bool:
    """Decide whether ``run`` in ``text`` is a phone number."""
    start, end, groups, seps, digits, plus = run
    n = len(digits)
    if plus:
        return 6 <= n <= 15 and country_code_of(digits) != "" and not _neighbour_veto(text, start, end, plus)
    if n > 15:
        return False
    if _is_cn_mobile_run(groups, seps, digits):
        return not _neighbour_veto(text, start, end, plus)
    vetoed = _grouped_shape_veto(groups, seps) if seps else _plain_shape_veto(digits)
    if vetoed or _neighbour_veto(text, start, end, plus):
        return False
    # Short numbers, plain 7-8 digit runs without a trunk 0 (counts, amounts) and dd.mm.yy
    # shapes are phones only when a word nearby says so.
    ambiguous = n < 7 or (not seps and n <= 8 and digits[0] != "0") or _is_short_date(groups, seps)
    if ambiguous:
        return _has_positive(text, start, end, short=True) and not _has_negative(text, start)
    return _has_positive(text, start, end, short=False) or not _has_negative(text, start)


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
        return _ID_CHECK[total % 11] == value[17].upper() and _valid_date(
            int(born[:4]), int(born[4:6]), int(born[6:])
        ) and born[:2] in ("18", "19", "20")  # fmt: skip
    if len(value) == 15 and value.isdecimal():
        return _valid_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))
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


def _parse(text: str, start: int, end: int) -> _Run | None:
    """Split the candidate ``text[start:end]`` into digit groups; None if it cannot be a number."""
    raw = text[start:end]
    if raw.isdecimal():  # the common case: one plain run of digits
        digits = raw if raw.isascii() else raw.translate(ASCII_DIGITS)
        return _Run(start, end, [digits], [], digits, False)
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
    return _Run(start, end, groups, parts[2:-1:2], "".join(groups), "+" in lead or "\uff0b" in lead)


def _classify(text: str, start: int, end: int) -> Span | None:  # noqa: PLR0911  (one kind per return)
    """What the digit run ``text[start:end]`` is, if it is personal data at all."""
    before = text[start - 1 : start]
    if before in ("#", "＃"):
        return None  # "#20231124-0042"
    if not text[start:end].isdecimal() and (
        _OBVIOUSLY_NOT.fullmatch(text, start, end)
        or (start > 1 and before in _CODE_JOINERS and _is_ascii_alnum(text[start - 2]) and text[start] not in _PLUS)
    ):
        return None  # a date, a decimal, or the tail of a code: INV-2024-000123
    run = _parse(text, start, end)
    if run is None or len(run.digits) < 5:
        return None
    start, end, groups, seps, digits, plus = run
    if plus:
        return Span(start, end, "phone") if _is_phone(text, run) else None
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
    return Span(start, end, "phone") if _is_phone(text, run) else None


def _is_ascii_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _glued_to_code(text: str, start: int, end: int) -> bool:
    """True when ``text[start:end]`` is part of a code: ``SF1234...``, ``A1B2...``, ``...99X1``.

    A lower-case word glued on ("the4111...") or CJK text around the number is no code.
    """
    before, after = text[start - 1 : start], text[end : end + 1]
    if before.isascii() and before.isalpha() and _code_like_prefix(text, start):
        return True
    return after.isascii() and (after.isdecimal() or after.isupper())


# A candidate shorter than this holds fewer than five digits: it cannot leak a number.
MIN_CANDIDATE_LENGTH: Final = 5


def candidate_starts(text: str) -> Iterator[re.Match[str]]:
    """Every run of ``text`` that ``find_spans`` would look at more closely (a superset)."""
    return _CANDIDATE.finditer(text)


def find_spans(text: str) -> list[Span]:
    """Every phone number, email, Chinese ID number and bank card in ``text``, in order.

    >>> find_spans("请联系13800138000谢谢")
    [Span(start=3, end=14, kind='phone')]
    """
    spans: list[Span] = []
    if "@" in text:
        spans.extend(Span(m.start(), m.end(), "email") for m in _EMAIL.finditer(text))
    taken = len(spans)
    for m in _CANDIDATE.finditer(text):
        start, end = m.span()
        if end - start < MIN_CANDIDATE_LENGTH or (
            taken and any(s.start < end and start < s.end for s in spans[:taken])
        ):
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
    if taken:
        spans.sort()
    return spans
