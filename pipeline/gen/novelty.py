"""The ROUGE-L novelty pool as the generators use it: seeded with the seed instructions, a
candidate kept only when its F1 against every pooled text is at most the threshold."""

from __future__ import annotations

from typing import Any, Iterable

from pipeline.record import Rejected


def seeded_pool(threshold: float, texts: Iterable[str]) -> Any:
    """A `NoveltyPool` holding `texts` (imported here: the pool pulls in numpy and rapidfuzz)."""
    from pipeline.novelty import NoveltyPool

    pool = NoveltyPool(threshold=threshold)
    texts = list(texts)
    if texts:
        pool.add_many(texts)
    return pool


def similarity_meta(verdict: Any) -> dict:
    """`most_similar` (text -> ROUGE-L F1, best first, top 10) and `avg_similarity` for meta."""
    return {"most_similar": {text: round(score, 6) for text, score in verdict.most_similar},
            "avg_similarity": round(float(verdict.avg_similarity), 6)}


def too_similar(verdict: Any, threshold: float, record) -> Rejected:
    best = verdict.best_match or ""
    return Rejected("too_similar", f"ROUGE-L F1 {verdict.best_score:.4f} > {threshold} against {best!r}",
                    record=record, extra={"most_similar": best, "score": verdict.best_score})
