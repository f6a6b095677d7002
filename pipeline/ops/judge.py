"""`judge`: AlpaGasus-style rating of each complete record by an LLM, kept at or above a threshold.

Reads complete records; asks for a 0-5 score of one dimension (accuracy, helpfulness, or your own)
with the record shown as delimited data; writes the score and the explanation to `meta.scores`.
Drops records below the threshold (`below_threshold`), open records (`incomplete`), and records
whose judge kept answering unusably after the re-asks (`judge_unparsable`, `judge_out_of_range`,
`judge_empty`, `judge_refusal`, `judge_incomplete`) or failed (`llm_error`): it fails closed.
"""

from __future__ import annotations

import re
from typing import Iterator

from pydantic import Field

from pipeline.llm.types import AsyncAsk, Reply
from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.record import Record, Rejected
from pipeline.scoring.ask import (Outcome, ScorerParams, ask_parsed, in_order, reask_limit, rejection,
                                  with_scores)
from pipeline.scoring.layout import JUDGE_PROMPTS, judge_messages
from pipeline.scoring.parse import parse_score

SCALE = (0.0, 5.0)
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RatingParams(ScorerParams):
    """What a 0-5 judge rates (shared with `pairs`)."""

    dimension: str = Field("accuracy", min_length=1,
                           description="what to rate: accuracy, helpfulness, or your own text")
    criterion: str | None = Field(None, description="what the dimension means (built in for accuracy "
                                                    "and helpfulness)")
    key: str | None = Field(None, pattern=_KEY.pattern,
                            description="meta.scores key (default: the dimension, or 'judge')")


class JudgeParams(RatingParams):
    threshold: float = Field(4.5, ge=0, le=5, description="keep records scoring at least this (0-5)")


def score_key(dimension: str, key: str | None) -> str:
    if key:
        return key
    return dimension if _KEY.match(dimension) else "judge"


def parse_judge(reply: Reply):
    return parse_score(reply.text, *SCALE)


async def judge_record(ask: AsyncAsk, rec: Record, dimension: str, criterion: str | None,
                       reasks: int) -> Outcome:
    """One record's judgement: `value` is (score, explanation) when it succeeded."""
    return await ask_parsed(ask, judge_messages(rec, dimension, criterion), parse_judge,
                            "judge_reask", reasks)


def run(ctx: StageContext, inputs: list[StageInput], p: JudgeParams) -> Iterator[Item]:
    key, reasks = score_key(p.dimension, p.key), reask_limit(ctx, p.reasks)

    def workflows():
        for inp in inputs:
            for rec in inp:
                async def one(ask: AsyncAsk, rec: Record = rec) -> tuple[Item, int]:
                    if not rec.complete:
                        return Rejected("incomplete", "no assistant answer to judge", record=rec), 0
                    out = await judge_record(ask, rec, p.dimension, p.criterion, reasks)
                    return verdict(rec, out, key, p.threshold), max(len(out.raw) - 1, 0)
                yield one

    for item, reasked in in_order(ctx, workflows()):
        ctx.count("reasked", reasked)
        yield item


def verdict(rec: Record, out: Outcome, key: str, threshold: float) -> Item:
    """The scored record, or its rejection (judge failure or below the threshold)."""
    if not out.ok:
        return rejection(rec, out, "judge")
    score, why = out.value
    rec = with_scores(rec, {key: score, f"{key}_explanation": why})
    if score < threshold:
        return Rejected("below_threshold", f"{key} {score:g} < {threshold:g}", record=rec,
                        extra={"raw": out.raw})
    return rec


SPEC = OpSpec(
    name="judge", fn=run, params=JudgeParams, version=1, min_inputs=1, uses_llm=True,
    prompts=JUDGE_PROMPTS,
    doc="AlpaGasus-style LLM rating (0-5) of a dimension; keeps records at or above `threshold`; "
        "score and explanation in meta.scores; unusable judge answers are re-asked, then rejected.",
)
