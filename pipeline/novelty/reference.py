"""The rouge_score novelty filter as the reference for agreement checks (needs `rouge-score`),
and generators of near-duplicate and exact-threshold candidates that exercise it.

`ReferencePool` decides with rouge_score 0.1.2 itself: its tokenizer, its `_score_lcs` and its
`fmeasure`, and `> threshold` rejects, as Self-Instruct and Alpaca do. To make thousands of
checks affordable it skips the pairs that provably cannot exceed the threshold: an LCS is at
most the multiset overlap of the two token lists, and F1 grows with the LCS, so a pair whose
overlap gives `2·overlap/(a+b) < threshold - 1e-9` scores below the threshold in rouge_score
too (its float formula is within 1e-15 of the exact value). Every other pair is scored by
rouge_score; `exhaustive=True` scores every pair.
"""

from __future__ import annotations

import random
from collections import Counter

import numpy as np

MARGIN = 1e-9


class ReferencePool:
    def __init__(self, threshold: float = 0.7, exhaustive: bool = False):
        from rouge_score import rouge_scorer  # dev extra: the reference is not used at run time

        self._score_lcs = rouge_scorer._score_lcs
        self._tokenizer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)._tokenizer
        self.threshold, self.exhaustive = threshold, exhaustive
        self.tokens: list[list[str]] = []
        self._lens = np.zeros(1024, dtype=np.int64)
        self._postings: dict[str, list] = {}
        self.pairs_scored = 0

    def __len__(self) -> int:
        return len(self.tokens)

    def tokenize(self, text: str) -> list[str]:
        return self._tokenizer.tokenize(text)

    def add(self, text: str) -> None:
        tokens = self.tokenize(text)
        idx = len(self.tokens)
        self.tokens.append(tokens)
        if idx == len(self._lens):
            self._lens = np.concatenate([self._lens, np.zeros(idx, dtype=np.int64)])
        self._lens[idx] = len(tokens)
        for tok, n in Counter(tokens).items():
            # [entries, counts, size]: arrays grown by doubling, so lookups need no copy
            post = self._postings.setdefault(tok, [np.zeros(4, np.int64), np.zeros(4, np.int64), 0])
            if post[2] == len(post[0]):
                post[0], post[1] = np.resize(post[0], 2 * post[2]), np.resize(post[1], 2 * post[2])
            post[0][post[2]], post[1][post[2]] = idx, n
            post[2] += 1

    def candidates(self, tokens: list[str]) -> np.ndarray:
        """Pool entries whose overlap bound does not rule out `F1 > threshold`."""
        if self.exhaustive:
            return np.arange(len(self.tokens))
        n_pool = len(self.tokens)
        overlap = np.zeros(n_pool, dtype=np.int64)
        for tok, n in Counter(tokens).items():
            if tok in self._postings:
                entries, counts, size = self._postings[tok]
                overlap[entries[:size]] += np.minimum(counts[:size], n)
        bound_ok = 2 * overlap >= (self.threshold - MARGIN) * (len(tokens) + self._lens[:n_pool])
        return np.flatnonzero(bound_ok & (overlap > 0))

    def check(self, text: str) -> tuple[bool, float]:
        """(keep, best rouge_score F1 among the pairs that can exceed the threshold)."""
        tokens = self.tokenize(text)
        best = 0.0
        for j in self.candidates(tokens).tolist():
            self.pairs_scored += 1
            best = max(best, self._score_lcs(tokens, self.tokens[j]).fmeasure)
        return not best > self.threshold, best

    def check_and_add(self, text: str) -> bool:
        keep, _ = self.check(text)
        if keep:
            self.add(text)
        return keep


# -- candidates that exercise the filter: near-duplicates and exact-threshold cases ---------------
def near_duplicate(text: str, rng: random.Random, donors: list[str]) -> str:
    """A seeded small edit of `text`: one word (one character in spaceless text such as Chinese)
    deleted, repeated, replaced, swapped, or a few donor units appended, or case and the final
    punctuation changed."""
    spaced = " " in text.strip()
    units = text.split() if spaced else list(text.strip())
    donor = rng.choice(donors)
    pieces = donor.split() if spaced else list(donor)
    edit = rng.choice(("delete", "repeat", "replace", "swap", "append", "restyle"))
    i = rng.randrange(len(units)) if units else 0
    if not units or edit == "restyle":
        return text.upper().rstrip(".?!。？！") + ("!" if spaced else "！")
    if edit == "delete" and len(units) > 1:
        del units[i]
    elif edit == "repeat":
        units.insert(i, units[i])
    elif edit == "replace" and pieces:
        units[i] = rng.choice(pieces)
    elif edit == "swap" and len(units) > 1:
        i = min(i, len(units) - 2)
        units[i], units[i + 1] = units[i + 1], units[i]
    else:
        units.extend(pieces[:3])
    return (" " if spaced else "").join(units)


def boundary_candidate(tokens: list[str], rng: random.Random, tag: str = "zq") -> str | None:
    """A text whose exact ROUGE-L F1 to `tokens` is 0.7: L = 7k of its tokens, in order, plus
    made-up filler tokens (`{tag}0`, ...) to length m = 20k - n, so 2L/(n+m) = 7/10. Whether
    rouge_score's float formula then gives 0.7 (keep) or 0.7000000000000001 (reject) depends
    on n and m. None when `tokens` has fewer than 7."""
    n = len(tokens)
    k = next((k for k in range(1, n // 7 + 1) if 7 * k <= n <= 13 * k), None)
    if k is None:
        return None
    lcs, m = 7 * k, 20 * k - n
    kept = [tokens[i] for i in sorted(rng.sample(range(n), lcs))]
    for j in range(m - lcs):
        kept.insert(rng.randrange(len(kept) + 1), f"{tag}{j}")
    return " ".join(kept)
