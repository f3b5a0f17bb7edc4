"""Recall and false-positive rate of ``mask_text`` over the committed corpus.

    python -m benchmarks.accuracy            # both splits, summary
    python -m benchmarks.accuracy --show 20  # and the first misses / false positives

A phone line counts as caught when no run of five consecutive digits of the number survives in
the output. "Runs" are read two ways: ``recall`` joins digits across phone separators (spaces,
dashes, dots, parentheses, slashes) but not across the ``*`` mask; ``strict`` joins every digit
of the output, as a scraper gluing fragments together would. A negative line is a false positive
when the output differs from the input at all.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from shield.masking.text import mask_text

CORPUS_DIR = Path(__file__).resolve().parent.parent / "tests" / "corpus"
SPLITS = ("tune", "dev", "dev2", "heldout")
RUN = 5
_SEPARATED_RUN = re.compile(r"\d(?:[\s\-./()\uff08\uff09]*\d)*")


def leaks(value: str, output: str, *, strict: bool = False) -> bool:
    """True when ``output`` still shows ``RUN`` consecutive digits of the number ``value``."""
    digits = re.sub(r"\D", "", value)
    windows = {digits[i : i + RUN] for i in range(len(digits) - RUN + 1)}
    if strict:
        runs = [re.sub(r"\D", "", output)]
    else:
        runs = [re.sub(r"\D", "", m.group()) for m in _SEPARATED_RUN.finditer(output)]
    return any(w in run for run in runs for w in windows)


@dataclass
class Score:
    """Counts for one split."""

    phones: int = 0
    missed: list[dict[str, str]] = field(default_factory=list)
    missed_strict: int = 0
    negatives: int = 0
    false_positives: list[dict[str, str]] = field(default_factory=list)
    by_format: Counter[str] = field(default_factory=Counter)
    missed_by_format: Counter[str] = field(default_factory=Counter)
    fp_by_category: Counter[str] = field(default_factory=Counter)

    @property
    def recall(self) -> float:
        return 1 - len(self.missed) / max(1, self.phones)

    @property
    def recall_strict(self) -> float:
        return 1 - self.missed_strict / max(1, self.phones)

    @property
    def fp_rate(self) -> float:
        return len(self.false_positives) / max(1, self.negatives)


def load(split: str) -> list[dict[str, str]]:
    """The lines of one split of the corpus."""
    with gzip.open(CORPUS_DIR / f"{split}.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def score_split(split: str) -> Score:
    """Run ``mask_text`` over every line of ``split`` and count what it caught and broke."""
    score = Score()
    for row in load(split):
        output = mask_text(row["text"])
        if row["kind"] == "phone":
            score.phones += 1
            score.by_format[row["number_format"]] += 1
            if leaks(row["value"], output):
                score.missed.append({**row, "output": output})
                score.missed_by_format[row["number_format"]] += 1
            if leaks(row["value"], output, strict=True):
                score.missed_strict += 1
        else:
            score.negatives += 1
            if output != row["text"]:
                score.false_positives.append({**row, "output": output})
                score.fp_by_category[row["category"]] += 1
    return score


def report(split: str, score: Score, show: int) -> None:
    print(f"[{split}] phones: {score.phones}  recall {score.recall:.4f}  "
          f"(strict {score.recall_strict:.4f})  misses {len(score.missed)}")  # fmt: skip
    for fmt, total in sorted(score.by_format.items()):
        missed = score.missed_by_format[fmt]
        print(f"    {fmt:<14} {1 - missed / total:.4f}  ({missed}/{total} missed)")
    print(f"[{split}] negatives: {score.negatives}  false-positive rate {score.fp_rate:.4f}  "
          f"({len(score.false_positives)})  {dict(score.fp_by_category)}")  # fmt: skip
    for row in score.missed[:show]:
        print("  MISS", row["region"], row["number_type"], repr(row["text"]), "->", repr(row["output"]))
    for row in score.false_positives[:show]:
        print("  FP  ", row["category"], repr(row["text"]), "->", repr(row["output"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=0, help="print this many misses and false positives")
    parser.add_argument("--split", choices=SPLITS, action="append", help="default: all splits")
    args = parser.parse_args()
    for split in args.split or SPLITS:
        report(split, score_split(split), args.show)


if __name__ == "__main__":
    main()
