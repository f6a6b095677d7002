"""`pairs`: preference pairs for DPO from several responses per prompt, judged and ranked.

Reads complete records from one or more inputs (e.g. `respond` with `n` samples, or one
`respond` stage per model); records with the same conversation up to the last answer form a
group. Each distinct response gets a 0-5 judge score (the `judge` op's prompts); the best becomes
`chosen`, the worst `rejected`. One record per prompt comes out: the prompt plus the chosen
answer as `messages`, the rejected answer and both scores in `meta.chosen` / `meta.rejected`
(export it with `format: dpo`). The rejected response is consumed into the pair; other
responses are rejected with a reason (`not_chosen`, `duplicate_response`, `too_few_responses`,
`no_margin`, `chosen_below_threshold`, judge failures), so every input is accounted for.
Responses are guarded against injection as in `judge` (`injection`, `reply_code`): a response
that addresses the judge is rejected (`judge_injection`) before the others are ranked.
Groups are held in memory until judged.
"""

from __future__ import annotations

import asyncio
from typing import Iterator

from pydantic import Field

from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.ops.judge import RatingParams, count_outcome, judge_record, score_key
from pipeline.record import Record, Rejected, content_id
from pipeline.scoring.ask import Outcome, in_order, reask_limit, rejection, with_scores
from pipeline.scoring.layout import JUDGE_PROMPTS


class PairsParams(RatingParams):
    dimension: str = Field("helpfulness", min_length=1,
                           description="what to rank by: accuracy, helpfulness, or your own text")
    min_margin: float = Field(1.0, ge=0, le=5, description="least score gap between chosen and rejected")
    min_chosen: float | None = Field(None, ge=0, le=5, description="least score of the chosen answer")


def group(inputs: list[StageInput]) -> Iterator[Item | list[Record]]:
    """Rejections found while grouping, then each group (same prompt, distinct answers) in
    order of first appearance."""
    groups: dict[str, list[Record]] = {}
    for inp in inputs:
        for rec in inp:
            if not rec.complete:
                yield Rejected("incomplete", "no assistant answer", record=rec)
                continue
            members = groups.setdefault(content_id(rec.messages[:-1]), [])
            same = next((m for m in members if m.response.strip() == rec.response.strip()), None)
            if same is not None:
                yield Rejected("duplicate_response", f"same answer as {same.id}", record=rec,
                               extra={"duplicate_of": same.id})
            else:
                members.append(rec)
    yield from groups.values()


def side(rec: Record, score: float, why: str) -> dict:
    out = {"id": rec.id, "score": score, "explanation": why}
    if rec.meta.get("model"):
        out["model"] = rec.meta["model"]
    return out


def rank(ctx: StageContext, members: list[Record], outcomes: list[Outcome], p: PairsParams,
         key: str) -> Iterator[Item]:
    """The pair of one judged group, and the rejections of its other members."""
    scored = []
    for rec, out in zip(members, outcomes):
        if not out.ok:
            yield rejection(rec, out, "judge")
        else:
            score, why = out.value
            scored.append((with_scores(rec, {key: score, f"{key}_explanation": why}, flags=out.flags),
                           score, why))
    scored.sort(key=lambda t: -t[1])
    if len(scored) < 2:
        for rec, _, _ in scored:
            yield Rejected("too_few_responses", "fewer than 2 judged answers to this prompt", record=rec)
        return
    (best, top, top_why), (worst, low, low_why) = scored[0], scored[-1]
    problem = None
    if top - low < p.min_margin:
        problem = ("no_margin", f"best {top:g} - worst {low:g} < min_margin {p.min_margin:g}")
    elif p.min_chosen is not None and top < p.min_chosen:
        problem = ("chosen_below_threshold", f"best {top:g} < min_chosen {p.min_chosen:g}")
    if problem:
        for rec, _, _ in scored:
            yield Rejected(problem[0], problem[1], record=rec)
        return
    for rec, score, _ in scored[1:-1]:
        yield Rejected("not_chosen", f"{key} {score:g}, neither best nor worst", record=rec)
    meta = dict(best.meta)
    meta.update(stage=ctx.stage_id, parents=[best.id, worst.id], chosen=side(best, top, top_why),
                rejected={**side(worst, low, low_why), "content": worst.response})
    ctx.count("consumed")
    yield Record.new(best.messages, meta)


def run(ctx: StageContext, inputs: list[StageInput], p: PairsParams) -> Iterator[Item]:
    key, reasks = score_key(p.dimension, p.key), reask_limit(ctx, p.reasks)
    groups: list[list[Record]] = []
    for item in group(inputs):
        if isinstance(item, list):
            groups.append(item)
        else:
            yield item

    def workflows():
        for members in groups:
            async def judge_all(ask, members: list[Record] = members) -> list[Outcome]:
                if len(members) < 2:
                    return []
                return list(await asyncio.gather(*(judge_record(ask, rec, p, reasks)
                                                   for rec in members)))
            yield judge_all

    for members, outcomes in zip(groups, in_order(ctx, workflows())):
        if not outcomes:
            yield from (Rejected("too_few_responses", "only one distinct answer to this prompt",
                                 record=rec) for rec in members)
            continue
        for out in outcomes:
            count_outcome(ctx, out)
        yield from rank(ctx, members, outcomes, p, key)


SPEC = OpSpec(
    name="pairs", fn=run, params=PairsParams, version=3, min_inputs=1, uses_llm=True,
    prompts=JUDGE_PROMPTS,
    doc="DPO preference pairs: group responses by prompt, judge each (0-5), best = chosen, "
        "worst = rejected (meta.chosen / meta.rejected); export with format dpo.",
)
