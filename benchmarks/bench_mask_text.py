"""Microseconds per short text for ``mask_text`` (and ``mask_texts``), bounded to a few seconds.

    python -m benchmarks.bench_mask_text

The texts are seeded comments of 20-80 characters in several languages: a third carry a phone,
email, ID or card number, the rest are ordinary text with and without digits (dates, prices,
order numbers), which is what most strings in an API response look like.
"""

# ruff: noqa: RUF001  (comments in many languages, with their own punctuation, are the point)

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from shield.masking.text import mask_text, mask_texts

SEED = 1126
TEXTS = 3000
BUDGET_S = 2.5  # per measurement; the whole run stays under 30 s

_PLAIN = (
    "Great product, fast delivery, would buy again!", "质量很好，物流很快，下次还来",
    "とても良い商品でした。また買いたいです", "Отличный товар, всем советую",
    "Muy buen producto, llegó a tiempo", "Alles bestens, gerne wieder", "还行吧，一般般",
    "Le colis est arrivé en bon état, merci", "The seller answered all my questions quickly",
)  # fmt: skip
_DIGITS = (
    "Arrived on 2024-11-26, two days early", "Paid $1,299.99 and it was worth it",
    "Order #20231124-0042 arrived damaged", "v2.10.1 fixed the crash, thanks", "打了8折，才¥128",
    "Updated 26.11.2024 10:30", "12.5% off with code SAVE12", "第3页看到的，评分4.5",
    "Invoice INV-2024-000123 attached", "Room 1204, building 3, zip 100020",
)  # fmt: skip
_PII = (
    "请联系13800138000谢谢", "Call me at +44 7911 123456 after six", "电话：010-12345678，找王经理",
    "mail me at alice.smith@example.com", "身份证号11010519491231002X", "card 4111 1111 1111 1111 pls",
    "Llámame al 612 34 56 78", "(021)12345678 转 8001", "WhatsApp +1 (415) 555-0132",
)  # fmt: skip


def corpus(rng: random.Random) -> list[str]:
    """Seeded mix of 20-80 character texts: a third with personal data, a third with digits."""
    texts: list[str] = []
    while len(texts) < TEXTS:
        kind = rng.choice((_PLAIN, _DIGITS, _PII))
        text = rng.choice(kind)
        if len(text) < 40:
            text = f"{text} {rng.choice(_PLAIN)}" if rng.random() < 0.5 else f"{rng.choice(_PLAIN)} {text}"
        if 20 <= len(text) <= 80:
            texts.append("".join(list(text)))  # a fresh object: no cache can flatter the figure
    return texts


def per_text_us(fn: Callable[[list[Any]], object], texts: list[Any], budget: float = BUDGET_S) -> float:
    """Best-of-rounds CPU microseconds per text, run for at most ``BUDGET_S`` seconds.

    CPU time (``process_time``), not wall time, so other load on the machine does not count.
    """
    best = float("inf")
    deadline = time.perf_counter() + budget
    while time.perf_counter() < deadline:
        t0 = time.process_time()
        fn(texts)
        best = min(best, (time.process_time() - t0) / len(texts) * 1e6)
    return best


def each(texts: list[str]) -> None:
    for text in texts:
        mask_text(text)


def calibrate() -> float:
    """CPU µs for a fixed pure-Python loop, to compare machines (about 0.7 on an idle laptop)."""
    return per_text_us(lambda xs: [str(x) for x in xs], list(range(10)), budget=0.5) * 10


def main() -> None:
    rng = random.Random(SEED)
    texts = corpus(rng)
    no_match = [t for t in texts if mask_text(t) is t]
    matching = [t for t in texts if mask_text(t) is not t]
    plain = [t for t in no_match if not any(c.isdigit() for c in t)]
    light = no_match[: 9 * len(matching) // 3] + matching[: len(matching) // 3]  # 10% personal data
    rng.shuffle(light)
    mean_len = sum(map(len, texts)) / len(texts)
    print(f"{len(texts)} texts of 20-80 chars (mean {mean_len:.0f}), {len(matching)} with personal data")
    print(f"calibration (10 x str(int)):   {calibrate():6.2f} µs  (idle laptop: ~0.7)")
    print(f"mask_text, mixed (1/3 PII):    {per_text_us(each, texts):6.2f} µs/text")
    print(f"mask_text, mixed (10% PII):    {per_text_us(each, light):6.2f} µs/text")
    print(f"mask_text, no match:           {per_text_us(each, no_match):6.2f} µs/text")
    print(f"mask_text, no digits at all:   {per_text_us(each, plain):6.2f} µs/text")
    print(f"mask_text, personal data:      {per_text_us(each, matching):6.2f} µs/text")
    print(f"mask_texts, mixed (1/3 PII):   {per_text_us(mask_texts, texts):6.2f} µs/text")
    print(f"mask_texts, no digits at all:  {per_text_us(mask_texts, plain):6.2f} µs/text")


if __name__ == "__main__":
    main()
