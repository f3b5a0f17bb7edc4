"""What the words and characters around a digit run say about it being a phone number.

Neighbours that make a number a code, an amount or part of something bigger veto it
(``#``, ``INV-``, ``SKU``, ``1Z999AA``, currency signs, units); keywords before it, in the same
clause, vouch for it ("tel", "电话") or say it is something else ("order", "运单").
"""

# ruff: noqa: RUF001  (the keyword lists are CJK, Cyrillic and full-width text on purpose)

from __future__ import annotations

import re
from typing import Final

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
# A unit or counter right after the number says it is an amount: "12345678 pcs", "10000元".
_UNIT_WORDS = str.split(
    "usd eur cny rmb jpy gbp rub inr krw hkd chf руб р. dollars dollar euros euro yuan pcs px kb mb gb tb kg km "
    "ms mm cm hz khz mhz ghz st nd rd th x k"
)
_UNIT_SIGNS = "%‰$€£¥￥₹₽₩₺₫฿元円"
_COUNTERS = "件個个台次人位名条張张本冊册枚只份篇頁页年月日号號歳岁"
_UNIT_AFTER: Final = re.compile(
    rf"\s?(?:[{_UNIT_SIGNS}]|(?:{'|'.join(map(re.escape, _UNIT_WORDS))})\b|[{_COUNTERS}])", re.IGNORECASE
)
# The characters a unit can start with: text after a number rarely starts with one ("or",
# "with", a comma), and this set check saves the regex.
_UNIT_START: Final = frozenset(_UNIT_SIGNS + _COUNTERS + "".join(w[0] + w[0].upper() for w in _UNIT_WORDS))
CODE_JOINERS = "-_/\\=&"


def neighbour_veto(text: str, start: int, end: int, plus: bool) -> bool:  # noqa: PLR0911  (one rule per return)
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
    if before in CODE_JOINERS and is_ascii_alnum(prev2):
        return True  # INV-2024-000123, /orders/12345678, ?id=12345678
    if before in ".,:" and prev2.isdecimal():
        return True  # the tail of a bigger number or a time: 1,234567890 or 10:30 1700000000
    if before.isascii() and before.isalpha() and code_like_prefix(text, start):
        return True
    next1, next2 = after[:1], after[1:2]
    if next1.isascii() and next1.isupper():
        return True  # 12345678X, 2024-11-26T10
    if next1 in (":", ",") and next2.isdecimal():
        return True  # a time (10:30) or more of a number (1 234 567,89)
    return next1 in ("-", "_") and next2.isascii() and next2.isalnum()


def code_like_prefix(text: str, start: int) -> bool:
    """True when the letters glued to the number look like a code (``SF``, ``1Z999AA``)."""
    i, stop = start, max(0, start - _WINDOW)
    while i > stop and text[i - 1].isascii() and text[i - 1].isalpha():
        i -= 1
    token = text[i:start]
    if len(token) > 2 and _POSITIVE.found_in(token.lower()):
        return False  # Tel02079460018, WhatsApp991 12 34 (but HP4508861 is a code)
    glued = i > 0 and ((text[i - 1].isascii() and text[i - 1].isalnum()) or text[i - 1] in "-_")
    return glued or len(token) == 1 or not token[1:].islower()


def has_positive(text: str, start: int, end: int, *, short: bool) -> bool:
    """A word that vouches for a phone number before it (or, for ``short`` numbers, after it)."""
    window = text[max(0, start - _WINDOW) : start]
    if short:
        window = (window + " " + text[end : end + _WINDOW]).lower()
        return _POSITIVE.found_in(window) or _NUMBER_WORD.found_in(window)
    return _POSITIVE.found_in(window.lower())


def has_negative(text: str, start: int) -> bool:
    """A word before the number, in the same clause, that says it is an order, a price..."""
    window = text[max(0, start - _WINDOW) : start].lower()
    if _LABEL_BEFORE.search(window[-8:]):
        return True
    clause = _CLAUSE_END.split(window)[-1]  # "Questions about the booking? 020 7946 0018"
    return _NEGATIVE.found_in(clause)


def is_ascii_alnum(char: str) -> bool:
    """True for an ASCII letter or digit, what codes are made of."""
    return char.isascii() and char.isalnum()
