"""`self_refine`: SelFee self-feedback. Answer (fresh by default), critique, revise, until the
critique says "Revision is not needed" (or scores 9+), a revision says N/A, or `max_revisions` (4).

Reads records (the last user turn is the instruction; earlier turns are context for the first
answer). Writes the record with, as its answer, the whole chain in SelFee's layout
(`target: chain`: answer, `### Feedback 1:`, `### Revision 1:`, ...) or the final answer
(`target: final`); meta keeps the revision count, the critiques' scores, why it stopped and, with
`keep_chain`, every answer and its feedback. Rejects `unparsable` (a critique with neither verdict
nor score, after re-asks), `llm_error`, and bad replies; the chain so far is kept as raw.
"""

from __future__ import annotations

from functools import partial
from typing import Iterator, Literal

from pydantic import Field

from pipeline.chat import selfee
from pipeline.chat.talk import Talk, checked, reasks_of, run_all, seed_tasks
from pipeline.llm.replies import problem
from pipeline.llm.types import AsyncAsk, Reply
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.prompts import load_prompt
from pipeline.record import Record, Rejected


class SelfRefineParams(Params):
    max_revisions: int = Field(4, ge=1, le=20, description="most revisions (SelFee: 4)")
    target: Literal["chain", "final"] = Field(
        "chain", description="chain: the assistant turn is SelFee's whole answer-feedback-revision chain; "
                             "final: only the last answer")
    reuse_answer: bool = Field(False, description="start from the record's own answer when it has one "
                                                  "(SelFee writes a fresh first answer)")
    use_existing: bool | None = Field(None, description="older name of reuse_answer (wins when given)")
    keep_chain: bool = Field(False, description="keep every answer and its feedback in meta.refine_chain")
    temperature: float | None = Field(1.0, ge=0, le=2, description="every request's temperature (SelFee: 1.0)")
    answer_max_tokens: int | None = Field(512, ge=1, description="answers and revisions (SelFee: 512)")
    feedback_max_tokens: int | None = Field(None, ge=1, description="critiques (SelFee: 128; unset: the "
                                                                    "llm block's, so a verdict is not cut off)")


def _feedback_check(reply: Reply) -> str | None:
    """A usable critique states a verdict or a score; one cut off by the length limit still
    counts when it does (SelFee used 128-token critiques)."""
    why = problem(reply)
    if why not in (None, "incomplete"):
        return why
    if selfee.parse_feedback(reply.text or "")[1] is None:
        return "unparsable" if why is None else why
    return None


def _revision_check(text: str) -> str | None:
    return None if selfee.is_na(text) or selfee.clean_revision(text) else "empty"


def split(rec: Record) -> tuple[list[dict], str | None]:
    """(messages up to and including the last user turn, the existing answer or None)."""
    if rec.complete:
        return rec.messages[:-1], rec.response
    return rec.messages, None


def _params(p: SelfRefineParams, max_tokens: int | None) -> dict:
    out = {} if p.temperature is None else {"temperature": p.temperature}
    return out if max_tokens is None else {**out, "max_tokens": max_tokens}


async def refine(p: SelfRefineParams, reasks: int, base: dict, rec: Record, sample: int, ask: AsyncAsk) -> Item:
    talk = Talk(ask, sample, reasks)
    answering, critiquing = _params(p, p.answer_max_tokens), _params(p, p.feedback_max_tokens)
    context, answer = split(rec)
    instruction = context[-1]["content"]
    reuse = p.reuse_answer if p.use_existing is None else p.use_existing
    if answer is None or not reuse:
        answer, why = await talk.turn(context, checked(), **answering)
        if why:
            return Rejected(why, "first answer", record=rec, raw=talk.raw())
    chain: list[dict] = []
    history: list[dict] = []
    revisions, end = 0, "max_revisions"
    while True:
        asked = selfee.feedback_messages(instruction, answer, history)
        feedback, why = await talk.turn(asked, _feedback_check, **critiquing)
        if why:
            return Rejected(why, f"feedback after {revisions} revision(s)", record=rec, raw=talk.raw(),
                            extra={"refine_chain": chain + [{"answer": answer}]})
        chain.append({"answer": answer, "feedback": feedback})
        if not selfee.parse_feedback(feedback)[1]:
            end = "no_revision_needed"
            break
        if revisions >= p.max_revisions:
            break
        revise = selfee.revise_messages(asked, feedback, revisions)
        revised, why = await talk.turn(revise, checked(_revision_check), **answering)
        if why:
            return Rejected(why, f"revision {revisions + 1}", record=rec, raw=talk.raw(),
                            extra={"refine_chain": chain})
        if selfee.is_na(revised):
            end = "revision_na"
            break
        answer, revisions = selfee.clean_revision(revised), revisions + 1
        # SelFee keeps the chat going for the first revisions' critiques, then starts fresh ones
        history = revise + [{"role": "assistant", "content": answer}] if revisions < selfee.FRESH_AFTER else []
    scores = [selfee.feedback_score(step["feedback"]) for step in chain]
    meta = dict(base, revisions=revisions, termination_reason=end, target=p.target,
                **({"feedback_scores": scores} if any(s is not None for s in scores) else {}),
                **({"refine_chain": chain} if p.keep_chain else {}))
    final = selfee.chain_text(chain) if p.target == "chain" else answer
    messages = context + [{"role": "assistant", "content": final}]
    if messages == rec.messages:      # nothing changed: the same record, its meta updated
        return Record(rec.id, rec.messages, {**rec.meta, **meta})
    return rec.derive(messages, model=talk.model, **meta)


def run(ctx: StageContext, inputs: list[StageInput], p: SelfRefineParams) -> Iterator[Item]:
    base = {"stage": ctx.stage_id, "method": "selfee", "prompt": load_prompt("selfee_feedback").ref}
    yield from run_all(ctx, seed_tasks(ctx, inputs, 1, partial(refine, p, reasks_of(ctx), base)))


SPEC = OpSpec(
    name="self_refine", fn=run, params=SelfRefineParams, version=2, min_inputs=1, uses_llm=True,
    sharding="record",
    prompts=selfee.PROMPTS,
    doc="SelFee self-feedback: answer, critique (score, verdict), revise; the chain as the training target.",
)
