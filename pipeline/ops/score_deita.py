"""`score_deita`: Deita-style complexity and quality scores (1-6) from an LLM, per turn.

Every user turn gets a complexity score (of the query alone) and every answered turn a quality
score (of the query and its answer, without the earlier turns, as Deita scores each pair).
How a 1-6 score is read from a chat model: when the endpoint returns logprobs, the score is the
expected value over the probabilities of the tokens "1".."6" at the answer's first token (Deita's
rule, renormalised over those six tokens); otherwise, the number the reply states. Either way the
reply must state a number from 1 to 6 (else it is re-asked, then the record is rejected).
Writes `meta.scores.deita_complexity` and `deita_quality` (means over turns) and `deita_score` =
Σ complexity_t × quality_t over answered turns; per-turn values and the method in `meta.deita`.
Drops nothing else: choosing records by these scores is `select`'s job. `prompt: deita` uses
Deita's released scorer models instead (their own prompt layout on a completions endpoint, the
softmax over the six score tokens, 3.0 when one is missing; `deita_scorer.py`).
"""

from __future__ import annotations

import asyncio
from typing import Iterator, Literal

from pydantic import Field

from pipeline.llm.types import AsyncAsk, Reply
from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.record import Record
from pipeline.scoring.ask import ScorerParams, Outcome, ask_parsed, in_order, reask_limit, rejection, with_scores
from pipeline.scoring.deita_scorer import complexity_request, deita_expectation, quality_request
from pipeline.scoring.layout import DEITA_PROMPTS, complexity_messages, quality_messages
from pipeline.scoring.parse import Failure, digit_expectation, parse_score

LOW, HIGH = 1, 6
Kind = Literal["complexity", "quality"]


class DeitaParams(ScorerParams):
    scores: tuple[Kind, ...] = Field(("complexity", "quality"), min_length=1,
                                     description="which scores to ask for")
    logprobs: bool = Field(True, description="ask for logprobs and use the expected score "
                                             "(set false for endpoints that reject logprobs)")
    top_logprobs: int = Field(20, ge=6, le=20, description="alternatives per token to ask for")
    prompt: Literal["rubric", "deita"] = Field(
        "rubric", description="rubric: a general chat model follows our scoring rubric; deita: Deita's released "
                              "scorer models behind a completions endpoint, in their own prompt layout")


def parse_deita(reply: Reply) -> tuple[float, str] | Failure:
    """(score, method): the logprob expectation when present, else the stated number."""
    parsed = parse_score(reply.text, LOW, HIGH)
    if isinstance(parsed, Failure):
        return parsed
    expected = digit_expectation(reply.raw, LOW, HIGH)
    return (expected, "logprobs") if expected is not None else (parsed[0], "text")


def turn_pairs(rec: Record) -> list[tuple[str, str | None]]:
    """(user turn, its answer or None) for every user turn."""
    msgs = [m for m in rec.messages if m["role"] != "system"]
    return [(m["content"], msgs[i + 1]["content"] if i + 1 < len(msgs) else None)
            for i, m in enumerate(msgs) if m["role"] == "user"]


def combine(complexity: list[float], quality: list[float | None]) -> dict:
    """meta.scores entries: means over turns and Σ complexity_t × quality_t (answered turns)."""
    out: dict = {}
    if complexity:
        out["deita_complexity"] = round(sum(complexity) / len(complexity), 4)
    answered = [q for q in quality if q is not None]
    if answered:
        out["deita_quality"] = round(sum(answered) / len(answered), 4)
    if complexity and answered:
        out["deita_score"] = round(sum(c * q for c, q in zip(complexity, quality) if q is not None), 4)
    return out


async def scorer_model_outcome(ask: AsyncAsk, request) -> Outcome:
    """One score from a Deita scorer model: never re-asked (nothing to parse), 3.0 as Deita's fallback."""
    reply = await ask(request)
    if reply.error is not None:
        return Outcome(failure=Failure("llm_error", reply.error), raw=[], reply=reply)
    return Outcome(deita_expectation(reply.raw), None, [reply.text], reply)


async def score_with_scorer_models(ask: AsyncAsk, rec: Record, p: DeitaParams) -> tuple[Item, list[Outcome]]:
    """Deita's own pipeline: every turn's complexity, and every turn's quality, a final
    unanswered turn against an empty response."""
    pairs = turn_pairs(rec)
    jobs_c = [scorer_model_outcome(ask, complexity_request(q, p.top_logprobs)) for q, _ in pairs] \
        if "complexity" in p.scores else []
    jobs_q = [scorer_model_outcome(ask, quality_request(q, a, p.top_logprobs)) for q, a in pairs] \
        if "quality" in p.scores else []
    outcomes = list(await asyncio.gather(*jobs_c, *jobs_q))
    failed = next((o for o in outcomes if not o.ok), None)
    if failed:
        return rejection(rec, failed, "deita"), outcomes
    complexity = [o.value[0] for o in outcomes[:len(jobs_c)]]
    quality = [o.value[0] for o in outcomes[len(jobs_c):]]
    detail = {"complexity": [round(c, 4) for c in complexity], "quality": [round(q, 4) for q in quality],
              "method": sorted({o.value[1] for o in outcomes}), "prompt": "deita"}
    return with_scores(rec, combine(complexity, quality), deita=detail), outcomes


async def score_record(ask: AsyncAsk, rec: Record, p: DeitaParams, reasks: int) -> tuple[Item, list[Outcome]]:
    if p.prompt == "deita":
        return await score_with_scorer_models(ask, rec, p)
    pairs = turn_pairs(rec)
    params = {"logprobs": True, "top_logprobs": p.top_logprobs} if p.logprobs else {}

    def job(messages: list[dict]):
        return ask_parsed(ask, messages, parse_deita, "deita_reask", reasks, **params)

    jobs_c = [job(complexity_messages(q)) for q, _ in pairs] if "complexity" in p.scores else []
    jobs_q = ([job(quality_messages(q, a)) for q, a in pairs if a is not None]
              if "quality" in p.scores else [])
    outcomes = list(await asyncio.gather(*jobs_c, *jobs_q))
    failed = next((o for o in outcomes if not o.ok), None)
    if failed:
        return rejection(rec, failed, "deita"), outcomes
    values = iter(o.value[0] for o in outcomes[len(jobs_c):])
    complexity = [o.value[0] for o in outcomes[:len(jobs_c)]]
    quality = [next(values) if a is not None else None for _, a in pairs] if jobs_q else []
    detail = {"complexity": [round(c, 4) for c in complexity],
              "quality": [None if q is None else round(q, 4) for q in quality],
              "method": sorted({o.value[1] for o in outcomes})}
    return with_scores(rec, combine(complexity, quality), deita=detail), outcomes


def run(ctx: StageContext, inputs: list[StageInput], p: DeitaParams) -> Iterator[Item]:
    reasks = reask_limit(ctx, p.reasks)

    def workflows():
        for inp in inputs:
            for rec in inp:
                async def one(ask: AsyncAsk, rec: Record = rec):
                    return await score_record(ask, rec, p, reasks)
                yield one

    for item, outcomes in in_order(ctx, workflows()):
        for o in outcomes:
            ctx.count("reasked", max(len(o.raw) - 1, 0))
            if o.ok:
                ctx.count(f"scored_by_{o.value[1]}")
        yield item


SPEC = OpSpec(
    name="score_deita", fn=run, params=DeitaParams, version=2, min_inputs=1, uses_llm=True,
    sharding="record",
    prompts=DEITA_PROMPTS,
    doc="Deita complexity and quality scores (1-6) per turn from an LLM (logprob expectation when "
        "available); deita_score = Σ complexity × quality; into meta.scores.",
)
