"""Detection accuracy over the committed corpus (``tests/corpus/``, see its README).

Recall: a phone number in a sentence counts as caught when no five of its digits in a row
survive ``mask_text``. False positives: ordinary digit text that ``mask_text`` changed at all.
The held-out split was written after tuning ended, so its figure is the honest one.
"""

from __future__ import annotations

import pytest

from benchmarks.accuracy import SPLITS, score_split


@pytest.mark.parametrize("split", SPLITS)
def test_recall_and_false_positive_rate(split: str) -> None:
    score = score_split(split)
    assert score.phones > 5000
    assert score.negatives > 2000
    assert score.recall >= 0.99, [m["text"] for m in score.missed[:20]]
    assert score.fp_rate <= 0.01, [fp["text"] for fp in score.false_positives[:20]]
