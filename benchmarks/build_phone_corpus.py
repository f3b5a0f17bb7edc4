"""Build the seeded accuracy corpus in ``tests/corpus/`` (dev only: needs ``phonenumbers``).

Positives are phone numbers from every region libphonenumber supports: the example number for
every ``PhoneNumberType``, ``example_number(region)``, and random valid numbers made by varying
example digits. Each is written as E.164, INTERNATIONAL and NATIONAL and embedded in a sentence.
Negatives are ordinary digit text (dates, prices, versions, order numbers...) that must pass
through unchanged.

The splits share no sentence template and no random variant. ``tune`` is what the detector was
tuned on. ``dev`` and ``dev2`` were each written as held-out sets, measured, and then had their
misses read (so they count as tuning data now). ``heldout`` was written last, after tuning ended,
and is only ever measured. Some languages appear only outside ``tune``. Run ``python benchmarks/build_phone_corpus.py``;
the output is deterministic.
"""

# ruff: noqa: RUF001  (sentences in many languages, with their own punctuation, are the point)

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberFormat, PhoneNumberType

CORPUS_DIR = Path(__file__).resolve().parent.parent / "tests" / "corpus"
SPLITS = {"tune": 20241126, "dev": 77031, "dev2": 5150, "heldout": 90210}
VARIANTS_PER_EXAMPLE = 2
FORMATS = {
    "E164": PhoneNumberFormat.E164,
    "INTERNATIONAL": PhoneNumberFormat.INTERNATIONAL,
    "NATIONAL": PhoneNumberFormat.NATIONAL,
}
TYPES = {name: value for name, value in vars(PhoneNumberType).items() if name.isupper()}

# Sentence templates: "{n}" is the number. Tune and held-out share no template.
PHONE_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "tune": {
        "en": ("Call me at {n}", "My phone number is {n}.", "{n} is my mobile",
               "Contact: {n}", "Text me ({n}) after lunch", "You can reach the office on {n} today"),
        "zh": ("请联系{n}谢谢", "我的手机号是{n}", "电话：{n}", "有问题打{n}找张经理", "{n}（微信同号）"),
        "ja": ("お問い合わせは{n}まで", "電話番号：{n}", "{n}にお電話ください"),
        "ru": ("Позвоните мне по номеру {n}", "Телефон: {n}", "Мой номер {n}, звоните вечером"),
        "es": ("Llámame al {n}", "Mi número es {n}", "Teléfono: {n}."),
        "de": ("Ruf mich an unter {n}", "Telefon: {n}", "Erreichbar unter {n} ab abends"),
        "ar": ("اتصل بي على {n}", "رقم هاتفي {n}"),
    },
    "dev": {
        "en": ("If anything breaks, ring {n} and ask for Sam", "{n}", "WhatsApp {n}",
               "Leave a message at {n} please", "Questions about the booking? {n}",
               "reach me anytime: {n}!"),
        "zh": ("加我微信或者直接打{n}", "联系人：王先生 {n}", "客服热线{n}，全天在线",
               "地址：北京市朝阳区，电话{n}", "发货前请先打{n}确认"),
        "ja": ("担当：田中（{n}）", "携帯{n}まで連絡ください"),
        "fr": ("Appelez-moi au {n}", "Mon numéro : {n}", "Tél. {n}"),
        "ar": ("للتواصل: {n}", "هاتف {n}"),
        "hi": ("मुझे {n} पर कॉल करें", "मेरा नंबर {n} है"),
        "ko": ("전화번호는 {n}입니다", "연락처: {n}"),
        "pt": ("Liga para {n}", "Meu celular é {n}"),
        "it": ("Chiamami al {n}", "Il mio numero è {n}"),
        "tr": ("Beni {n} numarasından arayın",),
        "vi": ("Gọi cho tôi số {n}",),
        "id": ("Hubungi saya di {n}",),
        "ru": ("Пишите в телеграм или звоните {n}",),
        "es": ("Contacto {n} (solo tardes)",),
        "de": ("Bei Fragen: {n}",),
    },
    "dev2": {
        "en": ("Hi, it's Tom - my new number is {n}", "Delivery driver: {n}",
               "ping me on {n} if the gate is locked", "{n} (landline, evenings only)",
               "Emergency contact {n}", "Not reachable at {n} anymore"),
        "zh": ("老板电话{n}，随时打", "有事请拨{n}", "送货前联系收件人{n}", "座机{n}转分机", "{n}是我的新号码",
               "客户手机：{n}；地址：上海"),
        "ja": ("連絡先は{n}です", "{n}（平日のみ）", "ご不明点は{n}へ"),
        "ko": ("문의: {n}", "{n}로 연락 주세요"),
        "ar": ("رقم الجوال: {n}", "يمكنك الاتصال على {n} في أي وقت"),
        "ru": ("Связь: {n}", "Номер курьера {n}"),
        "es": ("Escríbeme al WhatsApp {n}", "Tel. de contacto: {n}"),
        "fr": ("Mon portable : {n}", "Joignable au {n} après 18h"),
        "de": ("Meine Handynummer lautet {n}", "Rückruf bitte an {n}"),
        "hi": ("संपर्क करें: {n}", "मेरा मोबाइल नंबर {n} है"),
        "pt": ("Meu WhatsApp: {n}", "Ligue para {n} ou mande mensagem"),
        "it": ("Per informazioni {n}", "Cellulare {n}"),
        "tr": ("Telefon numaram {n}",),
        "vi": ("Số điện thoại của tôi là {n}",),
        "id": ("Nomor HP saya {n}",),
        "th": ("โทร {n} ได้ตลอด",),
        "pl": ("Zadzwoń pod numer {n}",),
        "nl": ("Bel mij op {n}",),
    },
    "heldout": {
        "en": ("Text or call: {n}", "my cell is {n} (work)", "{n} - leave a voicemail",
               "Reach Priya at {n} before 6pm", "Contact number {n}", "Hotline {n}", "Sam - {n}", "{n}"),
        "zh": ("联系方式：{n}（张先生）", "手机号码{n}，请勿外传", "有意者致电{n}", "{n}，非诚勿扰"),
        "ja": ("携帯番号：{n}", "お電話は{n}まで（平日のみ）"),
        "ar": ("للاستفسار اتصل {n}", "رقمي {n}"),
        "ru": ("Тел.: {n}", "Звоните по {n} в любое время"),
        "es": ("Móvil: {n}", "Para reservas llame al {n}"),
        "de": ("Telefonisch erreichbar: {n}", "Mobil {n}"),
        "fr": ("Téléphone : {n}", "Appelle-moi au {n} stp"),
        "hi": ("फ़ोन: {n}", "कृपया {n} पर संपर्क करें"),
        "ko": ("휴대폰 {n}",),
        "pt": ("Telefone: {n}",),
    },
}  # fmt: skip

# Wrappers put the number next to punctuation, at the start or the end of the text.
WRAPPERS = ("{n}", "{n}", "{n}", "({n})", "“{n}”", "「{n}」", "[{n}]", "{n}!", "{n},", "{n}。")


@dataclass(frozen=True)
class Example:
    """One corpus line."""

    text: str
    kind: str  # "phone" or "none"
    value: str = ""  # the number exactly as embedded (positives only)
    region: str = ""
    number_type: str = ""
    number_format: str = ""
    category: str = ""  # negatives only
    lang: str = ""

    def to_json(self) -> str:
        row = {k: v for k, v in vars(self).items() if v}
        return json.dumps(row, ensure_ascii=False)


def example_numbers() -> Iterator[tuple[str, str, PhoneNumber]]:
    """Every example number libphonenumber has, by (region, type)."""
    seen: set[str] = set()
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        found = [(name, phonenumbers.example_number_for_type(region, t)) for name, t in TYPES.items()]
        found.append(("EXAMPLE", phonenumbers.example_number(region)))
        for name, number in found:
            if number is None:
                continue
            e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
            if e164 not in seen:
                seen.add(e164)
                yield region, name, number


def varied(number: PhoneNumber, rng: random.Random) -> PhoneNumber | None:
    """A random valid number made by changing some trailing digits of ``number``."""
    national = str(number.national_number)
    for _ in range(20):
        k = rng.randint(1, max(1, min(6, len(national) - 2)))
        digits = national[:-k] + "".join(rng.choice("0123456789") for _ in range(k))
        candidate = PhoneNumber(country_code=number.country_code, national_number=int(digits),
                                italian_leading_zero=number.italian_leading_zero)  # fmt: skip
        if digits != national and phonenumbers.is_valid_number(candidate):
            return candidate
    return None


def phone_examples(split: str, rng: random.Random) -> Iterator[Example]:
    """Every example number plus random variants, in all three formats, in a sentence."""
    templates = [(lang, t) for lang, ts in PHONE_TEMPLATES[split].items() for t in ts]
    for region, type_name, example in example_numbers():
        numbers = [example]
        for _ in range(VARIANTS_PER_EXAMPLE):
            variant = varied(example, rng)
            if variant is not None:
                numbers.append(variant)
        for number in numbers:
            for format_name, fmt in FORMATS.items():
                value = phonenumbers.format_number(number, fmt)
                lang, template = rng.choice(templates)
                yield Example(
                    text=embed(template, value, rng),
                    kind="phone",
                    value=value,
                    region=region,
                    number_type=type_name,
                    number_format=format_name,
                    lang=lang,
                )


def embed(template: str, value: str, rng: random.Random) -> str:
    """Put ``value`` into ``template``, sometimes wrapped, sometimes with no spaces around it."""
    text = template.replace("{n}", rng.choice(WRAPPERS).replace("{n}", "\0"))
    if rng.random() < 0.3:  # glue the number to its neighbours
        text = re.sub(r"\s*\0\s*", "\0", text)
    return text.replace("\0", value)


# --- negatives -----------------------------------------------------------------------------

Gen = Callable[[random.Random], str]


def _date(r: random.Random) -> tuple[int, int, int]:
    return r.randint(1990, 2030), r.randint(1, 12), r.randint(1, 28)


def _d_iso(r: random.Random) -> str:
    return "{:04d}-{:02d}-{:02d}".format(*_date(r))


def _d_eu(r: random.Random) -> str:
    y, m, d = _date(r)
    return f"{d:02d}.{m:02d}.{y}"


def _d_us(r: random.Random) -> str:
    y, m, d = _date(r)
    return f"{m:02d}/{d:02d}/{y}"


def _d_cjk(r: random.Random) -> str:
    y, m, d = _date(r)
    return f"{y}年{m}月{d}日"


def _time(r: random.Random) -> str:
    t = f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}"
    return t + (f":{r.randint(0, 59):02d}" if r.random() < 0.5 else "")


def _iso_ts(r: random.Random) -> str:
    frac = f".{r.randint(0, 999):03d}" if r.random() < 0.5 else ""
    zone = r.choice(("Z", "+08:00", "-05:00", ""))
    return f"{_d_iso(r)}T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}{frac}{zone}"


def _unix(r: random.Random) -> str:
    s = r.randint(1_000_000_000, 1_999_999_999)
    return str(s * 1000 + r.randint(0, 999)) if r.random() < 0.5 else str(s)


def _price(r: random.Random) -> str:
    whole, cents = r.randint(1, 2_000_000), r.randint(0, 99)
    us = f"{whole:,}.{cents:02d}"
    eu = us.replace(",", " ").replace(".", ",").replace(" ", ".")
    return r.choice((f"${us}", f"{eu} €", f"¥{whole}", f"£{us}", f"{whole} руб.", f"₹{us}",
                     f"RMB {whole}", f"{whole}円", f"USD {us}", f"{whole}元"))  # fmt: skip


def _version(r: random.Random) -> str:
    parts = [str(r.randint(0, 20)) for _ in range(r.randint(2, 4))]
    return r.choice(("v", "", "version ", "Python ")) + ".".join(parts)


def _order(r: random.Random) -> str:
    y, m, d = _date(r)
    return r.choice((f"#{y}{m:02d}{d:02d}-{r.randint(0, 9999):04d}", f"{y}{m:02d}{d:02d}{r.randint(0, 99999):05d}",
                     f"#{r.randint(10**5, 10**9)}", f"ORD-{r.randint(10**6, 10**8)}"))  # fmt: skip


def _sku(r: random.Random) -> str:
    a = "".join(r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(2))
    return r.choice((f"{a}-{r.randint(10000, 99999)}-X", f"{a}{r.randint(100000, 9999999)}",
                     f"SKU-{r.randint(10**5, 10**8)}"))  # fmt: skip


def _invoice(r: random.Random) -> str:
    return f"INV-{r.randint(2000, 2030)}-{r.randint(0, 999999):06d}"


def _tracking(r: random.Random) -> str:
    def digits(n: int) -> str:
        return "".join(r.choice("0123456789") for _ in range(n))

    return r.choice((f"1Z{digits(3)}AA1{digits(7)}", f"94{digits(20)}", f"SF{digits(12)}",
                     f"JD{digits(13)}", f"YT{digits(16)}", f"EA{digits(9)}CN"))  # fmt: skip


def _percent(r: random.Random) -> str:
    return r.choice((f"{r.randint(0, 100)}.{r.randint(0, 9)}%", f"{r.randint(0, 100)}%"))


def _quantity(r: random.Random) -> str:
    n = r.randint(1, 5_000_000)
    return r.choice((f"{n:,}", str(n), f"{n} pcs", f"x{r.randint(1, 99)}"))


def _year(r: random.Random) -> str:
    return str(r.randint(1900, 2030))


def _zip(r: random.Random) -> str:
    return r.choice((f"{r.randint(10000, 99999)}", f"{r.randint(10000, 99999)}-{r.randint(0, 9999):04d}",
                     f"{r.randint(100000, 899999)}", f"〒{r.randint(100, 999)}-{r.randint(0, 9999):04d}",
                     f"{r.randint(10000, 99999)}-{r.randint(0, 999):03d}"))  # fmt: skip


def _ip(r: random.Random) -> str:
    return ".".join(str(r.randint(0, 255)) for _ in range(4))


def _page(r: random.Random) -> str:
    return f"{r.randint(1, 500)}/{r.randint(500, 999)}"


NEGATIVE_VALUES: dict[str, tuple[Gen, ...]] = {
    "date": (_d_iso, _d_eu, _d_us, _d_cjk),
    "time": (_time,),
    "iso_timestamp": (_iso_ts,),
    "unix_timestamp": (_unix,),
    "price": (_price,),
    "version": (_version,),
    "order": (_order,),
    "sku": (_sku,),
    "invoice": (_invoice,),
    "tracking": (_tracking,),
    "percent": (_percent,),
    "quantity": (_quantity,),
    "year": (_year,),
    "zip": (_zip,),
    "ip": (_ip,),
    "page": (_page,),
}

NEGATIVE_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "tune": {
        "en": ("Updated on {v}", "Order {v} has shipped", "Total: {v}", "Released {v} yesterday",
               "See {v} for details", "{v}", "Tracking number: {v}", "Deadline {v}, don't be late"),
        "zh": ("更新于{v}", "订单{v}已发货", "合计：{v}", "共{v}件", "运单号：{v}", "{v}起生效"),
        "ja": ("{v}に発送しました", "価格：{v}", "番号：{v}"),
        "ru": ("Обновлено {v}", "Заказ {v} отправлен", "Итого: {v}"),
        "es": ("Actualizado el {v}", "Pedido {v} enviado", "Precio: {v}"),
        "de": ("Aktualisiert am {v}", "Bestellung {v} versandt", "Preis: {v}"),
    },
    "dev": {
        "en": ("Build {v} is out", "last seen {v}", "Ref {v} — thanks!", "{v} items left",
               "server at {v} restarted", "Invoice {v} is overdue", "page {v}", "({v})"),
        "zh": ("截至{v}，库存充足", "发票号{v}", "{v}更新", "快递单号{v}请查收"),
        "fr": ("Mis à jour le {v}", "Commande {v} expédiée", "Prix : {v}"),
        "ar": ("تم التحديث {v}", "الطلب {v}"),
        "hi": ("अपडेट {v}", "ऑर्डर {v} भेज दिया गया"),
        "ko": ("{v}에 업데이트됨", "주문 {v}"),
        "pt": ("Atualizado em {v}", "Pedido {v} enviado"),
        "it": ("Aggiornato il {v}", "Ordine {v} spedito"),
    },
    "dev2": {
        "en": ("Shipped {v} via ground", "Your code expires {v}", "Batch {v} passed QA", "Stock: {v}",
               "as of {v}", "{v} - final", "Reply by {v} please"),
        "zh": ("{v}发布", "编号{v}", "价格{v}，包邮", "第{v}期"),
        "ja": ("更新日：{v}", "在庫{v}"),
        "es": ("Fecha: {v}", "Ref. {v}"),
        "de": ("Stand {v}", "Artikelnr. {v}"),
        "fr": ("Livré le {v}", "Réf. {v}"),
        "ru": ("Дата: {v}", "Счёт {v}"),
        "ar": ("السعر {v}",),
        "tr": ("Tarih {v}",),
        "pt": ("Data {v}",),
    },
    "heldout": {
        "en": ("Posted {v}", "Qty {v}", "Due {v}", "Tracking # {v}", "Version {v} released", "Receipt {v}",
               "{v} views", "{v}", "({v})", "- {v}"),
        "zh": ("截止日期{v}", "订单编号：{v}", "售价{v}", "{v}次浏览"),
        "ja": ("発売日 {v}", "注文番号 {v}"),
        "ru": ("Версия {v}", "Цена {v}"),
        "es": ("Versión {v}", "Total {v}"),
        "de": ("Datum: {v}", "Menge {v}"),
        "fr": ("Version {v}", "Total : {v}"),
        "hi": ("दिनांक {v}",),
        "ar": ("التاريخ {v}",),
    },
}  # fmt: skip

NEGATIVES_PER_CATEGORY = 150


def negative_examples(split: str, rng: random.Random) -> Iterator[Example]:
    """Ordinary digit text in every category, ``NEGATIVES_PER_CATEGORY`` lines each."""
    templates = [(lang, t) for lang, ts in NEGATIVE_TEMPLATES[split].items() for t in ts]
    for category, gens in NEGATIVE_VALUES.items():
        for _ in range(NEGATIVES_PER_CATEGORY):
            value = rng.choice(gens)(rng)
            lang, template = rng.choice(templates)
            text = template.replace("{v}", value)
            if rng.random() < 0.2:
                text = re.sub(r"\s*" + re.escape(value) + r"\s*", value, text)
            yield Example(text=text, kind="none", value=value, category=category, lang=lang)


def build(split: str) -> list[Example]:
    """All lines of one split."""
    rng = random.Random(SPLITS[split])
    return [*phone_examples(split, rng), *negative_examples(split, rng)]


def country_code_table() -> str:
    """``cc:len,len ...``: national number lengths per calling code, for shield's detectors."""
    lengths: dict[int, set[int]] = {}
    for cc, regions in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()):
        found = lengths.setdefault(cc, set())
        for region in regions:
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(cc, region)
            if metadata is None:
                continue
            for desc in (metadata.mobile, metadata.fixed_line):
                if desc is not None and desc.possible_length:
                    found.update(n for n in desc.possible_length if n > 0)
            general = metadata.general_desc
            if not found and general is not None and general.possible_length:
                found.update(general.possible_length)
    return " ".join(f"{cc}:{','.join(map(str, sorted(ns)))}" for cc, ns in lengths.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--country-codes", action="store_true", help="print the calling-code table and exit")
    if parser.parse_args().country_codes:
        print(country_code_table())
        return
    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        rows = build(split)
        path = CORPUS_DIR / f"{split}.jsonl.gz"
        data = "".join(row.to_json() + "\n" for row in rows).encode("utf-8")
        path.write_bytes(gzip.compress(data, mtime=0))  # mtime=0: the same bytes on every run
        positives = sum(row.kind == "phone" for row in rows)
        print(f"{path.name}: {positives} phone lines, {len(rows) - positives} negative lines")


if __name__ == "__main__":
    main()
