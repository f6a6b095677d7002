"""`rouge_novelty`: keep each record whose ROUGE-L F1 to every earlier kept record is at most `threshold`.

The Self-Instruct / Alpaca novelty filter over any records: inputs are read in order and a
kept record joins the comparison pool at once. Decisions equal rouge_score's on Latin-script
text; mainly non-Latin text is compared with script-aware tokens (`pipeline.novelty.tokens`).
A rejected record (`too_similar`) names the most similar kept record and the score; a kept one
carries `most_similar` (the top-k kept records, `{id, score}`) and `avg_similarity` in meta.
"""

from __future__ import annotations

from typing import Iterator, Literal

from pydantic import Field

from pipeline.dedup.text import plain_text
from pipeline.novelty import NoveltyPool
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.record import Record, Rejected

BUFFER = 256  # records checked per call: the pool compares them in batches, in order


class RougeNoveltyParams(Params):
    threshold: float = Field(0.7, ge=0.0, le=1.0,
                             description="reject a record whose ROUGE-L F1 to a kept record is above this")
    field: Literal["instruction", "user", "response", "conversation"] = Field(
        "instruction", description="text compared: first user turn, all user turns, all assistant "
                                   "turns, or every user and assistant turn")
    tokenizer: Literal["auto", "rouge", "script"] = Field(
        "auto", description="auto: rouge_score's tokens, script-aware ones for mainly non-Latin text")
    top_k: int = Field(3, ge=0, le=100, description="kept records list this many most similar ones in meta")


def compared_text(rec: Record, field: str) -> str:
    """The text compared; a conversation without its system turn (shared system prompts would
    inflate similarity)."""
    return plain_text(rec, field, with_system=False)


def _judge(ctx: StageContext, pool: NoveltyPool, batch: list[Record], p: RougeNoveltyParams
           ) -> Iterator[Item]:
    verdicts = pool.check_many([compared_text(r, p.field) for r in batch], [r.id for r in batch])
    for rec, v in zip(batch, verdicts):
        if not v.tokens:
            ctx.count("no_tokens")
        if v.keep:
            if p.top_k:
                rec.meta["most_similar"] = [{"id": key, "score": score} for key, score in v.most_similar]
            rec.meta["avg_similarity"] = v.avg_similarity
            yield rec
        else:
            yield Rejected("too_similar",
                           f"ROUGE-L F1 {v.best_score!r} > {p.threshold} against kept record {v.best_match}",
                           record=rec, extra={"similar_to": v.best_match, "rouge_l": v.best_score})


def run(ctx: StageContext, inputs: list[StageInput], p: RougeNoveltyParams) -> Iterator[Item]:
    pool = NoveltyPool(p.threshold, tokenizer=p.tokenizer, top_k=p.top_k)
    batch: list[Record] = []
    for inp in inputs:
        for rec in inp:
            batch.append(rec)
            if len(batch) == BUFFER:
                yield from _judge(ctx, pool, batch, p)
                batch = []
    yield from _judge(ctx, pool, batch, p)


SPEC = OpSpec(
    name="rouge_novelty", fn=run, params=RougeNoveltyParams, version=1, min_inputs=1,
    doc="ROUGE-L novelty filter (Self-Instruct/Alpaca): drop records too similar to an earlier kept one.",
)
