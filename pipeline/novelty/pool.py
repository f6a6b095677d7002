"""`NoveltyPool`: the incremental ROUGE-L novelty filter of Self-Instruct and Alpaca, exact and fast.

A candidate is kept when its ROUGE-L F1 against every text in the pool is at most the
threshold (rouge_score's `> 0.7` rejects); with `check_and_add`/`check_many` a kept text joins
the pool at once, so near-duplicates within one batch are caught too. Each distinct token is
mapped to one code point, so a token sequence is a short string and rapidfuzz's bit-parallel
LCS scores a batch of candidates against the whole pool in one `cdist` call.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import LCSseq

from pipeline.novelty.score import reference_f1_array
from pipeline.novelty.tokens import get_tokenizer

BATCH = 64        # candidates per cdist call: reading the pool's strings is paid once per batch
CHUNK = 1 << 15   # pool entries per cdist call: bounds the score matrix to BATCH x CHUNK
NEAR = 1e-9       # slack for float ties when picking the entries to rank exactly
PARALLEL_PAIRS = 1 << 18  # below this many pairs a second thread costs more than it saves


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one text against the pool.

    `best_score` is the highest ROUGE-L F1 (0.0 against an empty pool) and `best_match` the
    key of that entry (None when nothing shares a token). `most_similar` holds the top-k
    `(key, score)` pairs scoring above 0, best first (ties: earlier entry first); an entry's
    key is its text unless another key was given. `avg_similarity` is the mean F1 over the
    whole pool (0.0 when it is empty). For a rejected text `most_similar` lists only the
    entries above the threshold, the reasons for the rejection. `tokens` counts the text's tokens: a text
    without any (only punctuation, or a script the tokenizer drops) is never rejected.
    """

    keep: bool
    best_score: float
    most_similar: list[tuple[Any, float]]
    avg_similarity: float
    best_match: Any = None
    tokens: int = 0


class _Codes:
    """Token -> code point (surrogates skipped): token sequences become strings for rapidfuzz."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.top = 0

    def _new(self, token: str) -> int:
        self.top += 0x801 if self.top == 0xD7FF else 1
        self.ids[token] = self.top
        return self.top

    def encode(self, tokens: Sequence[str]) -> list[int]:
        ids = self.ids
        return [ids.get(t) or self._new(t) for t in tokens]


class _Matches:
    """Per-candidate scores against the pool, gathered chunk by chunk.

    Only what a verdict needs is kept: the F1 sum (for the mean) and, from each chunk and from
    the candidate's own batch, the k best entries as (pool index, `reference_f1`). The best of
    them decides, so the ties at the threshold are decided by rouge_score's float formula.
    """

    def __init__(self, qlen: np.ndarray, k: int, inner: np.ndarray | None):
        self.qlen, self.k = qlen, k
        self.total = np.zeros(len(qlen))
        self.entries: list[list[tuple[int, float]]] = [[] for _ in qlen]
        if inner is not None:
            self.inner_f1 = _f1_matrix(inner, qlen, qlen)
            self.inner_ref = reference_f1_array(inner, qlen[:, None], qlen[None, :])

    def update(self, lcs: np.ndarray, plen: np.ndarray, offset: int) -> None:
        f1 = _f1_matrix(lcs, self.qlen, plen)
        self.total += f1.sum(axis=1)
        rows, n = f1.shape
        tau = np.zeros(rows)
        if n > 8 * self.k:
            # The smallest of k block maxima is at most the k-th largest score: only the
            # entries from there up (usually a few dozen) are ranked exactly.
            tau = f1[:, : n - n % self.k].reshape(rows, self.k, -1).max(axis=2).min(axis=1)
        for r in range(rows):
            cols = np.flatnonzero(f1[r] >= tau[r] - NEAR) if tau[r] > NEAR else np.flatnonzero(f1[r] > 0)
            self._keep_best(r, cols + offset, reference_f1_array(lcs[r, cols], self.qlen[r], plen[cols]))

    def add(self, r: int, kept: np.ndarray, first: int) -> None:
        """Scores of candidate `r` against the batch members kept before it (pool index `first` on)."""
        self.total[r] += self.inner_f1[r, kept].sum()
        scores = self.inner_ref[r, kept]
        positive = np.flatnonzero(scores > 0)
        self._keep_best(r, positive + first, scores[positive])

    def _keep_best(self, r: int, index: np.ndarray, scores: np.ndarray) -> None:
        if len(index) > self.k:
            best = np.lexsort((index, -scores))[: self.k]
            index, scores = index[best], scores[best]
        self.entries[r].extend(zip(index.tolist(), scores.tolist()))


def _f1_matrix(lcs: np.ndarray, qlen: np.ndarray, plen: np.ndarray) -> np.ndarray:
    """2·LCS/(a+b) for every pair, within an ulp of exact; one pass per row (rows of one
    length share their factor vector)."""
    f1 = np.empty(lcs.shape)
    factors: dict[int, np.ndarray] = {}
    for r, a in enumerate(qlen.tolist()):
        if a not in factors:
            factors[a] = 2.0 / np.maximum(a + plen, 1)
        np.multiply(lcs[r], factors[a], out=f1[r])
    return f1


def _check_keys(texts: Sequence, keys: Sequence | None) -> None:
    if keys is not None and len(keys) != len(texts):
        raise ValueError(f"{len(keys)} keys for {len(texts)} texts")


class NoveltyPool:
    """An incremental pool of texts; rejects a text whose ROUGE-L F1 to any entry exceeds `threshold`.

    `tokenizer` is `auto` (rouge_score's tokens for Latin-script text, script-aware tokens for
    mainly non-Latin text), `rouge`, `script` or a callable. `top_k` bounds `most_similar`
    (0 skips it). `workers` is passed to rapidfuzz for large batches (-1: all cores).
    Each entry has a key that verdicts name (`most_similar`, `best_match`): the text itself
    unless a key such as a record id is given. Texts themselves are not stored.
    """

    def __init__(self, threshold: float = 0.7, tokenizer: str | Callable[[str], list[str]] = "auto",
                 top_k: int = 10, workers: int = 1, max_code_point: int = sys.maxunicode):
        self.threshold = float(threshold)
        self.top_k = int(top_k)
        self.workers = workers
        self._tokenize = get_tokenizer(tokenizer)
        self._codes = _Codes()
        self._max_code_point = max_code_point
        self._as_text = True
        self._seqs: list = []
        self._keys: list = []
        self._lens = np.zeros(1024, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._seqs)

    def add(self, text: str, key: Any = None) -> None:
        """Put `text` into the pool without checking it (seed instructions)."""
        self.add_many([text], None if key is None else [key])

    def add_many(self, texts: Sequence[str], keys: Sequence | None = None) -> None:
        _check_keys(texts, keys)
        seqs, lens = self._encode(texts)
        for i, text in enumerate(texts):
            self._append(text if keys is None else keys[i], seqs[i], int(lens[i]))

    def check(self, text: str) -> Verdict:
        """The verdict for `text` against the pool, without adding it."""
        return self.check_many([text], add=False)[0]

    def check_and_add(self, text: str, key: Any = None) -> Verdict:
        """Check `text`; a kept text joins the pool."""
        return self.check_many([text], None if key is None else [key])[0]

    def check_many(self, texts: Sequence[str], keys: Sequence | None = None, *,
                   add: bool = True) -> list[Verdict]:
        """Verdicts in order. With `add`, each kept text joins the pool before the next is
        checked (the verdicts equal those of `check_and_add` one by one, the mean up to
        rounding, only faster); without, each text is checked against the pool alone."""
        _check_keys(texts, keys)
        out: list[Verdict] = []
        for start in range(0, len(texts), BATCH):
            part = texts[start:start + BATCH]
            part_keys = part if keys is None else keys[start:start + BATCH]
            out.extend(self._batch(part, part_keys, add))
        return out

    # -- internals ---------------------------------------------------------------------------
    def _encode(self, texts: Sequence[str]) -> tuple[list, np.ndarray]:
        codes = [self._codes.encode(self._tokenize(t)) for t in texts]
        if self._as_text and self._codes.top > self._max_code_point:
            # More distinct tokens than code points: compare lists of ints instead (slower).
            self._as_text = False
            self._seqs = [[ord(ch) for ch in s] for s in self._seqs]
        seqs = ["".join(map(chr, c)) for c in codes] if self._as_text else codes
        return seqs, np.fromiter((len(c) for c in codes), dtype=np.int64, count=len(codes))

    def _append(self, key: Any, seq, length: int) -> None:
        n = len(self._seqs)
        if n == len(self._lens):
            self._lens = np.concatenate([self._lens, np.zeros(n, dtype=np.int64)])
        self._lens[n] = length
        self._seqs.append(seq)
        self._keys.append(key)

    def _lcs(self, queries: list, choices: list) -> np.ndarray:
        pairs = len(queries) * len(choices)
        workers = self.workers if pairs >= PARALLEL_PAIRS else 1
        return process.cdist(queries, choices, scorer=LCSseq.similarity, dtype=np.float64,
                             workers=workers)

    def _batch(self, texts: Sequence[str], keys: Sequence, add: bool) -> list[Verdict]:
        seqs, qlen = self._encode(texts)
        inner = self._lcs(seqs, seqs) if add and len(seqs) > 1 else None
        matches = _Matches(qlen, max(self.top_k, 1), inner)
        n0 = len(self._seqs)
        for start in range(0, n0, CHUNK):
            stop = min(n0, start + CHUNK)
            matches.update(self._lcs(seqs, self._seqs[start:stop]), self._lens[start:stop], start)
        kept: list[int] = []
        verdicts = []
        for r in range(len(texts)):
            if kept:
                matches.add(r, np.asarray(kept), n0)
            verdict = self._verdict(matches, r, n0 + len(kept))
            verdicts.append(verdict)
            if add and verdict.keep:
                self._append(keys[r], seqs[r], int(qlen[r]))
                kept.append(r)
        return verdicts

    def _verdict(self, m: _Matches, r: int, pool_size: int) -> Verdict:
        ranked = sorted(m.entries[r], key=lambda e: (-e[1], e[0]))
        keep = not ranked or ranked[0][1] <= self.threshold
        top = (ranked if keep else [(i, s) for i, s in ranked if s > self.threshold])[: self.top_k]
        best_i, best = ranked[0] if ranked else (None, 0.0)
        avg = float(m.total[r] / pool_size) if pool_size else 0.0
        return Verdict(keep, best, [(self._keys[i], s) for i, s in top], avg,
                       None if best_i is None else self._keys[best_i], int(m.qlen[r]))
