"""`self_refine`: SelFee-style self-feedback. Answer (or take the record's answer), critique,
revise, until the critique says "Revision is not needed" or `max_revisions` is reached.

Reads records (the last user turn is the instruction; earlier turns are context for the first
answer). Writes the record with the final answer; meta keeps the revision count, why it stopped
and, with `keep_chain`, every answer and its feedback. Rejects `unparsable` (a critique without
a verdict, after re-asks), `llm_error`, and bad replies; the chain so far is kept as raw.
"""

from __future__ import annotations

from functools import partial
from typing import Iterator

from pydantic import Field

from pipeline.chat import selfee
from pipeline.chat.talk import Talk, checked, reasks_of, run_all, seed_tasks
from pipeline.llm.types import AsyncAsk
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.prompts import load_prompt
from pipeline.record import Record, Rejected


class SelfRefineParams(Params):
    max_revisions: int = Field(3, ge=1, le=20)
    keep_chain: bool = Field(False, description="keep every answer and its feedback in meta.refine_chain")
    use_existing: bool = Field(True, description="start from the record's own answer when it has one")


def _verdict(text: str) -> str | None:
    return None if selfee.parse_feedback(text)[1] is not None else "unparsable"


def split(rec: Record) -> tuple[list[dict], str | None]:
    """(messages up to and including the last user turn, the existing answer or None)."""
    if rec.complete:
        return rec.messages[:-1], rec.response
    return rec.messages, None


async def refine(p: SelfRefineParams, reasks: int, base: dict, rec: Record, sample: int, ask: AsyncAsk) -> Item:
    talk = Talk(ask, sample, reasks)
    context, answer = split(rec)
    instruction = context[-1]["content"]
    chain: list[dict] = []
    if answer is None or not p.use_existing:
        answer, why = await talk.turn(context, checked())
        if why:
            return Rejected(why, "first answer", record=rec, raw=talk.raw())
    revisions, end = 0, "max_revisions"
    while revisions < p.max_revisions:
        feedback, why = await talk.turn(selfee.feedback_messages(instruction, answer), checked(_verdict))
        if why:
            return Rejected(why, f"feedback after {revisions} revision(s)", record=rec, raw=talk.raw(),
                            extra={"refine_chain": chain + [{"answer": answer}]})
        chain.append({"answer": answer, "feedback": feedback})
        if not selfee.parse_feedback(feedback)[1]:
            end = "no_revision_needed"
            break
        revised, why = await talk.turn(selfee.revise_messages(instruction, answer, feedback),
                                       checked(lambda t: None if selfee.clean_revision(t) else "empty"))
        if why:
            return Rejected(why, f"revision {revisions + 1}", record=rec, raw=talk.raw(),
                            extra={"refine_chain": chain})
        answer, revisions = selfee.clean_revision(revised), revisions + 1
    if end == "max_revisions":
        chain.append({"answer": answer})
    meta = dict(base, revisions=revisions, termination_reason=end,
                **({"refine_chain": chain} if p.keep_chain else {}))
    messages = context + [{"role": "assistant", "content": answer}]
    if messages == rec.messages:      # nothing changed: the same record, its meta updated
        return Record(rec.id, rec.messages, {**rec.meta, **meta})
    return rec.derive(messages, model=talk.model, **meta)


def run(ctx: StageContext, inputs: list[StageInput], p: SelfRefineParams) -> Iterator[Item]:
    base = {"stage": ctx.stage_id, "method": "selfee", "prompt": load_prompt("selfee_feedback").ref}
    yield from run_all(ctx, seed_tasks(ctx, inputs, 1, partial(refine, p, reasks_of(ctx), base)))


SPEC = OpSpec(
    name="self_refine", fn=run, params=SelfRefineParams, version=1, min_inputs=1, uses_llm=True,
    prompts=selfee.PROMPTS,
    doc="SelFee-style self-feedback: answer, critique, revise until no revision is needed or a limit.",
)
