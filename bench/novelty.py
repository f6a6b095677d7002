"""Novelty filter: speed of NoveltyPool against the rouge_score reference loop, and decision agreement.

Run from the repository root: `python bench/novelty.py` (needs the `dev` extra for rouge-score).
The reference is Alpaca's `generate_instruction.py` loop: instructions pre-tokenized once, then
per candidate a fresh `multiprocessing.Pool(cpu_count)` maps `rouge_scorer._score_lcs` over the
pool, and the max, top-10 and mean are taken (Self-Instruct's loop re-tokenizes every pair
and is slower, so these ratios are the conservative ones).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from functools import partial
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.novelty import NoveltyPool, rouge_tokens  # noqa: E402
from pipeline.novelty.reference import ReferencePool, boundary_candidate, near_duplicate  # noqa: E402

ALPACA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca" / "alpaca_data.json"


def reference_rate(pool_texts: list[str], candidates: list[str]) -> float:
    """Candidates per second of Alpaca's loop (without adding, so the pool size stays fixed)."""
    from rouge_score import rouge_scorer

    tokenizer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)._tokenizer
    pool_tokens = [tokenizer.tokenize(t) for t in pool_texts]
    results = []
    start = time.perf_counter()
    for text in candidates:
        tokens = tokenizer.tokenize(text)
        with Pool(os.cpu_count()) as workers:
            scores = workers.map(partial(rouge_scorer._score_lcs, tokens), pool_tokens)
        scores = [s.fmeasure for s in scores]
        most_similar = {pool_texts[i]: scores[i] for i in np.argsort(scores)[-10:][::-1]}
        results.append((max(scores) <= 0.7, most_similar, float(np.mean(scores))))
    return len(results) / (time.perf_counter() - start)


def our_rates(pool_texts: list[str], candidates: list[str]) -> tuple[float, float]:
    """(one at a time with `check`, in batches with `check_many`) candidates per second."""
    pool = NoveltyPool()
    pool.add_many(pool_texts)
    start = time.perf_counter()
    singles = [pool.check(t) for t in candidates]
    one = len(candidates) / (time.perf_counter() - start)
    start = time.perf_counter()
    batched = pool.check_many(candidates, add=False)
    many = len(candidates) / (time.perf_counter() - start)
    assert [v.keep for v in singles] == [v.keep for v in batched]
    return one, many


def speed(texts: list[str], sizes: list[int], n_ref: int, n_ours: int, rng: random.Random) -> None:
    print("== speed: candidates per second against a pool of N Alpaca instructions")
    cands = rng.sample(texts[max(sizes):], n_ours)
    for n in sizes:
        ref = reference_rate(texts[:n], cands[:n_ref])
        one, many = our_rates(texts[:n], cands)
        print(f"pool {n:>6,}: rouge_score (Pool({os.cpu_count()}), {n_ref} candidates) {ref:8.2f}/s | "
              f"NoveltyPool one at a time {one:8.0f}/s ({one / ref:,.0f}x) | "
              f"in batches {many:8.0f}/s ({many / ref:,.0f}x)")
    pairs = len(texts) * (len(texts) - 1) / 2
    print(f"(at its pool-{n:,} rate the reference loop would need about {pairs / (ref * n) / 3600:.1f} h "
          f"for the {pairs:,.0f} pairs of building the {len(texts):,} pool)")


def build(texts: list[str]) -> list:
    print(f"== build: the {len(texts):,} Alpaca instructions checked and added one by one, in order")
    pool = NoveltyPool()
    start = time.perf_counter()
    verdicts = pool.check_many(texts)
    took = time.perf_counter() - start
    kept = sum(v.keep for v in verdicts)
    at = sum(v.best_score == 0.7 for v in verdicts)
    print(f"{took:.1f} s ({len(texts) / took:,.0f} candidates/s); kept {kept:,}, rejected {len(texts) - kept:,}; "
          f"{at:,} kept with a best score of exactly 0.7")
    return verdicts


def agree_in_order(texts: list[str], verdicts: list, sample: int, rng: random.Random) -> None:
    """Each sampled candidate is checked by rouge_score against the pool it met (earlier kept ones)."""
    picked = set(rng.sample(range(len(texts)), min(sample, len(texts))))
    ref, same = ReferencePool(), 0
    start = time.perf_counter()
    for i, (text, ours) in enumerate(zip(texts, verdicts)):
        if i in picked:
            keep, _ = ref.check(text)
            same += keep == ours.keep
        if ours.keep:
            ref.add(text)
    print(f"in order: {same:,} of {len(picked):,} decisions equal rouge_score's "
          f"({ref.pairs_scored:,} pairs scored by rouge_score, {time.perf_counter() - start:.0f} s)")


def agree_edits(texts: list[str], n_near: int, n_boundary: int, rng: random.Random) -> None:
    """Seeded edits and exact-0.7 constructions of random instructions, against the whole pool."""
    cands = [near_duplicate(t, rng, texts) for t in rng.sample(texts, n_near)]
    sources = iter(rng.sample(texts, len(texts)))
    while len(cands) < n_near + n_boundary:
        made = boundary_candidate(rouge_tokens(next(sources)), rng, tag=f"zq{len(cands)}x")
        if made:
            cands.append(made)
    pool, ref = NoveltyPool(), ReferencePool()
    pool.add_many(texts)
    for t in texts:
        ref.add(t)
    ours = pool.check_many(cands, add=False)
    theirs = [ref.check(c) for c in cands]
    same = sum(v.keep == keep for v, (keep, _) in zip(ours, theirs))
    rejected = sum(not keep for keep, _ in theirs)
    boundary = theirs[n_near:]
    print(f"edits: {same:,} of {len(cands):,} decisions equal rouge_score's ({rejected:,} rejected); "
          f"of the {n_boundary:,} exact-0.7 candidates rouge_score rejects "
          f"{sum(not k for k, _ in boundary):,} (its float gives 0.7000000000000001) and keeps the rest")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ALPACA)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ref-candidates", type=int, default=6, help="candidates timed for the reference")
    ap.add_argument("--candidates", type=int, default=2000, help="candidates timed for NoveltyPool")
    ap.add_argument("--agree", type=int, default=0, help="in-order decisions to check (a seeded sample; 0: all)")
    ap.add_argument("--edits", type=int, default=5000, help="near-duplicate candidates to check")
    ap.add_argument("--boundary", type=int, default=1000, help="exact-0.7 candidates to check")
    args = ap.parse_args()
    texts = [row["instruction"] for row in json.loads(args.data.read_text(encoding="utf-8"))]
    rng = random.Random(args.seed)
    print(f"{len(texts):,} instructions from {args.data}; {os.cpu_count()} CPUs; seed {args.seed}")
    speed(texts, [5000, 20000], args.ref_candidates, args.candidates, rng)
    verdicts = build(texts)
    print("== agreement with rouge_score 0.1.2 (decisions)")
    agree_in_order(texts, verdicts, args.agree or len(texts), rng)
    agree_edits(texts, args.edits, args.boundary, rng)


if __name__ == "__main__":
    main()
