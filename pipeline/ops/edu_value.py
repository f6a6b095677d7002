"""`edu_value`: Phi-1's "educational value" filter, by an LLM (Gunasekar et al. 2023, "Textbooks Are All You Need").

Reads complete records (textbook sections, exercises with solutions, or any answer) and asks
the stage's LLM whether each has `high` or `low` educational value for a student whose goal is
`goal` (Phi-1: to learn basic coding concepts). Writes `meta.scores.edu_value` (1 high, 0 low)
and the share of high in stats.json (`edu_value`). Drops low ones (`low_educational_value`)
unless `drop_low` is false, open records (`incomplete`) and failed judgements (`edu_<code>`).
"""

from __future__ import annotations

from typing import Iterator

from pydantic import Field

from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.prompts import load_prompt
from pipeline.record import Record, Rejected
from pipeline.scoring.ask import ScorerParams, with_scores
from pipeline.scoring.labels import label_records, parse_word
from pipeline.scoring.layout import boundary_for, exchange

PROMPTS = ("edu_value_system", "edu_value_user", "edu_value_reask")


class EduParams(ScorerParams):
    goal: str = Field("learn basic coding concepts", min_length=3, description="the student's goal (Phi-1's)")
    drop_low: bool = Field(True, description="reject records of low educational value")


def edu_messages(rec: Record, goal: str) -> list[dict]:
    context, instruction, response = exchange(rec)
    request = f"{context}\n\n[user]\n{instruction}" if context else instruction
    user = load_prompt("edu_value_user").render(boundary=boundary_for(request, response), instruction=request,
                                                response=response)
    return [{"role": "system", "content": load_prompt("edu_value_system").render(goal=goal)},
            {"role": "user", "content": user}]


def run(ctx: StageContext, inputs: list[StageInput], p: EduParams) -> Iterator[Item]:
    labelled = label_records(ctx, inputs, lambda rec: edu_messages(rec, p.goal),
                             lambda text: parse_word(text, ("high", "low")), "edu_value_reask", "edu", p.reasks)
    for rec, rejected, label, why in labelled:
        if rejected is not None:
            yield rejected
            continue
        ctx.count(f"edu_{label}")
        rec = with_scores(rec, {"edu_value": 1 if label == "high" else 0, "edu_value_reason": why})
        if label == "low" and p.drop_low:
            yield Rejected("low_educational_value", why or "judged of low educational value", record=rec)
        else:
            yield rec
    share(ctx.counters)


def share(counters) -> None:
    """The high share of the stage (recomputed from the summed counts when it ran as shards)."""
    counters["edu_high"] += 0            # both counts always in stats.json, even when zero
    counters["edu_low"] += 0
    high, low = counters["edu_high"], counters["edu_low"]
    counters["edu_value"] = round(high / (high + low), 4) if high + low else 0


SPEC = OpSpec(
    name="edu_value", fn=run, params=EduParams, version=1, min_inputs=1, uses_llm=True, prompts=PROMPTS,
    sharding="record", merge_counters=share,
    doc="Phi-1's educational-value filter: an LLM labels each record high or low for a student's goal; "
        "low ones are dropped; the high share in stats.json.",
)
