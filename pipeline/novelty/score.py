"""ROUGE-L F1 from LCS lengths, computed the way rouge_score computes it, and pairwise scoring.

F1 is `2·LCS / (len_a + len_b)` in exact arithmetic. rouge_score 0.1.2 computes it in floats
as precision `P = lcs/len_b`, recall `R = lcs/len_a`, then `2*P*R / (P+R)`; when the exact
value equals a threshold (0.7 = 7/10 at `len_a + len_b = 20k`), that float formula lands on
either side of it (7/13 tokens give 0.7000000000000001, 7/10 give 0.7 exactly), so keep/reject
at the boundary is decided with the same formula. The formula is symmetric in its two lengths.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from rapidfuzz.distance import LCSseq

from pipeline.novelty.tokens import get_tokenizer


def reference_f1(lcs: int, len_a: int, len_b: int) -> float:
    """ROUGE-L F1 exactly as rouge_score's `_score_lcs` + `scoring.fmeasure` compute it."""
    if lcs <= 0 or not len_a or not len_b:
        return 0.0
    precision = lcs / len_b
    recall = lcs / len_a
    return 2 * precision * recall / (precision + recall)


def reference_f1_array(lcs: np.ndarray, len_a, len_b) -> np.ndarray:
    """`reference_f1` elementwise, with the same IEEE operations in the same order."""
    lcs = np.asarray(lcs, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = lcs / len_b
        recall = lcs / len_a
        f1 = 2 * precision * recall / (precision + recall)
    return np.where(lcs > 0, f1, 0.0)


def lcs_length(a: Sequence, b: Sequence) -> int:
    """Length of the longest common subsequence of two token sequences."""
    return int(LCSseq.similarity(a, b))


def rouge_l(text_a: str, text_b: str, tokenizer: str = "auto") -> float:
    """ROUGE-L F1 of two texts with the novelty filter's tokenizer."""
    tok = get_tokenizer(tokenizer)
    a, b = tok(text_a), tok(text_b)
    return reference_f1(lcs_length(a, b), len(a), len(b))
