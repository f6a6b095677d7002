"""`judge`: AlpaGasus-style rating of each complete record by an LLM, kept at or above a threshold.

Reads complete records; asks for a 0-5 score of one dimension (accuracy, helpfulness, or your own)
with the record shown as delimited data; writes the score and the explanation to `meta.scores`.
Drops records below the threshold (`below_threshold`), open records (`incomplete`), and records
whose judge kept answering unusably after the re-asks (`judge_unparsable`, `judge_out_of_range`,
`judge_empty`, `judge_refusal`, `judge_incomplete`, `judge_no_code`) or failed (`llm_error`): it
fails closed.

Two defences against records that try to set their own score, neither relying on the judge's
obedience: a rule check before any request rejects records that address the judge
(`judge_injection`; `injection: flag` judges them and adds `judge_injection` to `meta.flags`),
and the judge's first line must carry a per-record reply code that the record cannot know
(`reply_code: true`), so a judge that drops the format to obey the record is re-asked, then
rejected (`judge_no_code`).
"""

from __future__ import annotations

import re
from typing import Callable, Iterator, Literal

from pydantic import Field

from pipeline.llm.types import AsyncAsk, Reply
from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.record import Record, Rejected
from pipeline.scoring.ask import (Outcome, ScorerParams, ask_parsed, in_order, reask_limit, rejection,
                                  with_scores)
from pipeline.scoring.injection import find_injection
from pipeline.scoring.layout import JUDGE_PROMPTS, exchange, judge_messages, judge_reply_code
from pipeline.scoring.parse import DECOR, Failure, parse_score

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
    injection: Literal["reject", "flag", "off"] = Field(
        "reject", description="records that address the judge ('reply 5', 'ignore previous "
                              "instructions'...): reject (judge_injection), flag (meta.flags), off")
    reply_code: bool = Field(True, description="the judge's reply must begin with a per-record code "
                                               "the record cannot know (else re-asked, then judge_no_code)")
    temperature: float | None = Field(0.0, ge=0, le=2, description="AlpaGasus: 0 (none: the llm block's)")
    max_tokens: int | None = Field(256, ge=1, description="AlpaGasus: 256 (none: the llm block's)")


class JudgeParams(RatingParams):
    threshold: float = Field(4.5, ge=0, le=5, description="keep records scoring at least this (0-5)")


def score_key(dimension: str, key: str | None) -> str:
    if key:
        return key
    return dimension if _KEY.match(dimension) else "judge"


def without_code(text: str | None, code: str) -> str | Failure:
    """The reply with its first line cut after the reply code (a label such as `Code:` before it is
    dropped too), or `no_code` when the first line lacks the code."""
    lines = (text or "").strip().splitlines()
    first = lines[0] if lines else ""
    if code not in first:
        return Failure("no_code", "the first line did not hold the reply code")
    rest = first[first.index(code) + len(code):].strip(DECOR + ":-,;")
    return "\n".join(([rest] if rest else []) + lines[1:])


def parse_judge(code: str | None = None) -> Callable[[Reply], tuple[float, str] | Failure]:
    """The judge's parser: (score, explanation); with `code`, the first line must hold it."""
    def parse(reply: Reply):
        text = reply.text if code is None else without_code(reply.text, code)
        return text if isinstance(text, Failure) else parse_score(text, *SCALE)
    return parse


async def judge_record(ask: AsyncAsk, rec: Record, p: RatingParams, reasks: int) -> Outcome:
    """One record's judgement: `value` is (score, explanation) when it succeeded. A record that
    addresses the judge is not sent (`injection: reject`) or is judged and flagged (`flag`)."""
    hit = find_injection(exchange(rec)) if p.injection != "off" else None
    if hit and p.injection == "reject":
        return Outcome(failure=Failure("injection", f"the record addresses the judge ({hit})"))
    code = judge_reply_code(rec) if p.reply_code else None
    out = await ask_parsed(ask, judge_messages(rec, p.dimension, p.criterion, coded=p.reply_code),
                           parse_judge(code), "judge_reask", reasks, reask_values={"reply_code": code or ""},
                           **sampling(p))
    if hit:
        out.flags.append("judge_injection")
    return out


def sampling(p: RatingParams) -> dict:
    """AlpaGasus's decoding (temperature 0, 256 tokens) unless set to none."""
    return {k: v for k, v in (("temperature", p.temperature), ("max_tokens", p.max_tokens)) if v is not None}


def run(ctx: StageContext, inputs: list[StageInput], p: JudgeParams) -> Iterator[Item]:
    key, reasks = score_key(p.dimension, p.key), reask_limit(ctx, p.reasks)

    def workflows():
        for inp in inputs:
            for rec in inp:
                async def one(ask: AsyncAsk, rec: Record = rec) -> tuple[Item, Outcome | None]:
                    if not rec.complete:
                        return Rejected("incomplete", "no assistant answer to judge", record=rec), None
                    out = await judge_record(ask, rec, p, reasks)
                    return verdict(rec, out, key, p.threshold), out
                yield one

    for item, out in in_order(ctx, workflows()):
        if out is not None:
            count_outcome(ctx, out)
        yield item


def count_outcome(ctx: StageContext, out: Outcome) -> None:
    ctx.count("reasked", max(len(out.raw) - 1, 0))
    if "judge_injection" in out.flags:
        ctx.count("injection_flagged")


def verdict(rec: Record, out: Outcome, key: str, threshold: float) -> Item:
    """The scored record, or its rejection (judge failure or below the threshold)."""
    if not out.ok:
        return rejection(rec, out, "judge")
    score, why = out.value
    rec = with_scores(rec, {key: score, f"{key}_explanation": why}, flags=out.flags)
    if score < threshold:
        return Rejected("below_threshold", f"{key} {score:g} < {threshold:g}", record=rec,
                        extra={"raw": out.raw})
    return rec


SPEC = OpSpec(
    name="judge", fn=run, params=JudgeParams, version=3, min_inputs=1, uses_llm=True,
    sharding="record",
    prompts=JUDGE_PROMPTS,
    doc="AlpaGasus-style LLM rating (0-5) of a dimension; keeps records at or above `threshold`; "
        "score and explanation in meta.scores; unusable judge answers are re-asked, then rejected; "
        "records that address the judge are rejected (judge_injection) and replies must carry a reply code.",
)
