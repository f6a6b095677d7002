"""`user_sim`: UltraChat-style dialogues between a user-simulator model and an assistant model.

The opening turn is the record's first user turn (`question`), a question the simulator writes
about it (`topic`: a meta-topic), or the record's text wrapped with a request the simulator
writes about it (`material`). Then the assistant answers and the simulator follows up, for
`min_rounds`..`max_rounds` rounds (seeded per record). The simulator may be another model or
endpoint (`user_llm`). Rejects `too_few_turns`, `llm_error` and, after re-asks, bad replies.
"""

from __future__ import annotations

import random
from functools import partial
from typing import Iterator, Literal

from pydantic import Field, model_validator

from pipeline.chat import ultrachat
from pipeline.chat.talk import Talk, checked, finish, other_endpoint, reasks_of, run_all, seed_tasks
from pipeline.chat.turns import clean_user_turn
from pipeline.llm.settings import LLMSettings
from pipeline.llm.types import AsyncAsk
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.prompts import load_prompt
from pipeline.record import Record

class UserSimParams(Params):
    opening: Literal["question", "topic", "material"] = Field(
        "question", description="what the record's first user turn is")
    min_rounds: int = Field(3, ge=1, le=50)
    max_rounds: int = Field(7, ge=1, le=50)
    samples: int = Field(1, ge=1, le=64, description="dialogues per record")
    seed: int = 0
    user_llm: LLMSettings | None = Field(
        None, description="the user simulator's model or endpoint (keys override the stage's llm:)")

    @model_validator(mode="after")
    def _check(self) -> "UserSimParams":
        if self.min_rounds > self.max_rounds:
            raise ValueError("min_rounds must not exceed max_rounds")
        return self


def simulator_ask(ctx: StageContext, p: UserSimParams):
    """The `ask` of the user simulator (`user_llm`), or None to use the stage's own."""
    return other_endpoint(ctx, p.user_llm)


async def opening(rec: Record, p: UserSimParams, rng: random.Random, sim: Talk) -> tuple[str | None, str | None]:
    first = rec.instruction
    if p.opening == "question":
        return first, None
    if p.opening == "topic":
        text, why = await sim.turn(ultrachat.topic_question_messages(first), checked())
        return (clean_user_turn(text) if text else None), why
    text, why = await sim.turn(ultrachat.material_question_messages(first), checked())
    if why:
        return None, why
    return ultrachat.material_opening(first, clean_user_turn(text), rng.randrange(ultrachat.MATERIAL_FORMS)), None


async def dialogue(p: UserSimParams, reasks: int, base: dict, sim_ask, rec: Record, sample: int,
                   ask: AsyncAsk) -> Item:
    rng = random.Random(f"{p.seed}:{rec.id}:{sample}")
    rounds = rng.randint(p.min_rounds, p.max_rounds)
    assistant = Talk(ask, sample, reasks)
    sim = Talk(sim_ask or ask, sample, reasks)
    messages = [{"role": "system", "content": rec.system}] if rec.system else []
    user_turn, why = await opening(rec, p, rng, sim)
    failed = sim if why else None
    for k in range(rounds if not why else 0):
        if k:
            text, why = await sim.turn(ultrachat.user_turn_messages(messages), checked())
            user_turn = clean_user_turn(text) if text else ""
            why = why or (None if user_turn else "empty")
            if why:
                failed = sim
                break
        answer, why = await assistant.turn(messages + [{"role": "user", "content": user_turn}], checked())
        if why:
            failed = assistant
            break
        messages += [{"role": "user", "content": user_turn}, {"role": "assistant", "content": answer}]
    meta = dict(base, rounds_planned=rounds, model=assistant.model, user_model=sim.model,
                **({"sample": sample} if p.samples > 1 else {}))
    end = why or "rounds_done"
    return finish(rec, messages, meta, end=end, raw=failed.raw() if failed else None,
                  min_rounds=p.min_rounds)


def run(ctx: StageContext, inputs: list[StageInput], p: UserSimParams) -> Iterator[Item]:
    base = {"stage": ctx.stage_id, "method": "ultrachat", "opening": p.opening,
            "prompt": load_prompt("ultrachat_user_turn").ref}
    make = partial(dialogue, p, reasks_of(ctx), base, simulator_ask(ctx, p))
    yield from run_all(ctx, seed_tasks(ctx, inputs, p.samples, make))


SPEC = OpSpec(
    name="user_sim", fn=run, params=UserSimParams, version=1, min_inputs=1, uses_llm=True,
    sharding="record",
    prompts=ultrachat.PROMPTS,
    doc="UltraChat-style dialogues: a user-simulator model and an assistant model, 3-7 rounds.",
)
