"""`respond`: answer open records (ending with a user turn) by appending the model's assistant turn.

Reads records; writes each open record answered (`n` samples: `n` records, sample index in
`meta.sample` and in the request key), with `meta.model`. Already-complete records pass
through unchanged. Rejects: `llm_error` (the endpoint refused the request, e.g. HTTP 400),
and after `max_reasks` re-asks `empty`, `refusal` or `incomplete` (finish_reason other than
stop), keeping the raw reply. `orca` picks an Orca system message by task family and
`chain_of_thought` asks for step-by-step reasoning (see `pipeline/gen/orca.py`).
"""

from __future__ import annotations

import random
from functools import partial
from typing import Iterator

from pydantic import Field, model_validator

from pipeline.gen.calls import run_in_order
from pipeline.gen.orca import COT_PROMPT, SYSTEM_PROMPT, orca_system, with_cot
from pipeline.llm.reask import ask_with_reasks
from pipeline.llm.replies import describe, problem, raw_text
from pipeline.llm.types import AsyncAsk, Request
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.record import Record, Rejected


class RespondParams(Params):
    system: str | list[str] | None = Field(
        None, description="system message for records without one; a list: one picked per record (seeded)")
    replace_system: bool = Field(False, description="use `system` even when a record has its own")
    keep_system: bool = Field(True, description="keep the added system message in the output record")
    n: int = Field(1, ge=1, le=64, description="samples (answers) per record")
    seed: int = Field(0, description="seed for picking a system message from a list")
    refusal_prose: bool = Field(True, description="treat short 'I can't help with that' answers as refusals")
    orca: bool = Field(False, description="Orca explanation tuning: a system message from Orca's 16, chosen by "
                       "task family (FLAN CoT/NIV2/T0/Flan2021, SNI), seeded per record")
    reanswer: bool = Field(False, description="answer complete records again, replacing their last answer "
                           "(Orca: teacher explanations for FLAN/SNI queries)")
    chain_of_thought: bool = Field(False, description="ask for step-by-step reasoning before the final answer "
                                   "(the record keeps the original user turn)")

    @model_validator(mode="after")
    def _one_system(self) -> "RespondParams":
        if self.orca and self.system is not None:
            raise ValueError("give either `system` or `orca: true`, not both")
        return self


def conversation(rec: Record, p: RespondParams) -> tuple[list[dict], list[dict]]:
    """(messages sent to the model, messages kept in the output record) before the answer."""
    system = p.system
    if isinstance(system, list):
        system = random.Random(f"{p.seed}:{rec.id}").choice(system) if system else None
    own = rec.system is not None
    if system is None or (own and not p.replace_system):
        return rec.messages, rec.messages
    body = rec.messages[1:] if own else rec.messages
    sent = [{"role": "system", "content": system}] + body
    return sent, (sent if p.keep_system else body)


def prepare(rec: Record, p: RespondParams) -> tuple[list[dict], list[dict], dict]:
    """`conversation` with the Orca system message and the chain-of-thought request applied,
    plus the meta saying so."""
    extra: dict = {}
    if p.orca:
        system, extra = orca_system(rec, p.seed)
        p = p.model_copy(update={"system": system})
    sent, kept = conversation(rec, p)
    if p.chain_of_thought:
        sent, extra["chain_of_thought"] = with_cot(sent), True
    return sent, kept, extra


async def answer(rec: Record, sent: list[dict], kept: list[dict], sample: int, p: RespondParams,
                 reasks: int, stage: str, extra: dict, ask: AsyncAsk) -> Item:
    request = Request.chat(sent, sample=sample)
    reply, why = await ask_with_reasks(ask, request, reasks,
                                       partial(problem, refusal_prose=p.refusal_prose))
    if why is not None:
        return Rejected(why, describe(reply), record=rec, raw=raw_text(reply),
                        extra={"sample": sample} if p.n > 1 else {})
    meta = {"model": (reply.raw or {}).get("model") or "", "stage": stage, **extra}
    if p.n > 1:
        meta["sample"] = sample
    return rec.derive(kept + [{"role": "assistant", "content": reply.text.strip()}], **meta)


async def passthrough(rec: Record, ask: AsyncAsk) -> Item:
    return rec


def run(ctx: StageContext, inputs: list[StageInput], p: RespondParams) -> Iterator[Item]:
    settings = getattr(ctx.llm, "settings", None)
    reasks = settings.max_reasks if settings is not None else 2

    def tasks():
        for inp in inputs:
            for rec in inp:
                if rec.complete and p.reanswer:
                    rec = Record(rec.id, rec.messages[:-1], rec.meta)
                    ctx.count("reanswered")
                elif rec.complete:
                    ctx.count("passed_complete")
                    yield partial(passthrough, rec)
                    continue
                sent, kept, extra = prepare(rec, p)
                ctx.count("generated", p.n - 1)
                for sample in range(p.n):
                    yield partial(answer, rec, sent, kept, sample, p, reasks, ctx.stage_id, extra)

    yield from run_in_order(ctx, tasks())


def prompt_names(p: RespondParams) -> tuple[str, ...]:
    return (SYSTEM_PROMPT,) * p.orca + (COT_PROMPT,) * p.chain_of_thought


SPEC = OpSpec(
    name="respond", fn=run, params=RespondParams, version=1, min_inputs=1, uses_llm=True,
    sharding="record",
    prompts_for=prompt_names,
    doc="Answer open records with the LLM (n samples each); complete records pass through.",
)
