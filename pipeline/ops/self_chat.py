"""`self_chat`: Baize self-chat dialogues seeded by each record's first user turn (a topic or question).

v1: one request writes the whole `[Human]`/`[AI]` transcript, parsed as Baize does (preamble and
last segment dropped, stop at the first malformed segment), capped at `max_turns`. v2: per round,
the model writes the next human line (stop at `[AI]`) and a plain chat answers it.
Writes one dialogue per seed and sample (`meta.parents` = the seed). Rejects `unparsable` (no
round could be read), `too_few_turns`, `llm_error`, and after re-asks `empty`/`refusal`/`incomplete`.
"""

from __future__ import annotations

from typing import Iterator, Literal

from pydantic import Field

from pipeline.chat import baize
from pipeline.chat.talk import Talk, checked, finish, reasks_of, run_all, seed_tasks
from pipeline.llm.replies import problem
from pipeline.llm.types import AsyncAsk, Reply
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.prompts import load_prompt
from pipeline.record import Record


class SelfChatParams(Params):
    variant: Literal["v1", "v2"] = Field("v1", description="v1: one call per transcript; v2: one call per turn")
    max_turns: int = Field(5, ge=1, le=100, description="most rounds (human + AI) per dialogue")
    min_turns: int = Field(1, ge=1, description="fewest rounds to keep a dialogue")
    samples: int = Field(1, ge=1, le=64, description="dialogues per seed")


def _v1_check(reply: Reply) -> str | None:
    """A cut-off transcript is fine (its last segment is dropped anyway); an unreadable one is not."""
    why = problem(reply)
    if why in (None, "incomplete"):
        return None if baize.parse_transcript(reply.text or "") else "unparsable"
    return why


def _human_check(reply: Reply) -> str | None:
    """An empty human line means the human has no more questions: not a bad reply."""
    why = problem(reply)
    return None if why == "empty" else why


def _messages(rounds: list[tuple[str, str]]) -> list[dict]:
    out = []
    for human, ai in rounds:
        out += [{"role": "user", "content": human}, {"role": "assistant", "content": ai}]
    return out


async def chat_v1(rec: Record, sample: int, p: SelfChatParams, reasks: int, meta: dict, ask: AsyncAsk) -> Item:
    talk = Talk(ask, sample, reasks)
    text, why = await talk.turn(baize.v1_messages(rec.instruction), _v1_check)
    if why:
        return finish(rec, [], meta, end=why, raw=talk.raw(), min_rounds=p.min_turns)
    rounds = baize.parse_transcript(text)
    end = "max_turns" if len(rounds) > p.max_turns else "transcript_end"
    meta = dict(meta, model=talk.model)
    return finish(rec, _messages(rounds[:p.max_turns]), meta, end=end, raw=text, min_rounds=p.min_turns)


async def chat_v2(rec: Record, sample: int, p: SelfChatParams, reasks: int, meta: dict, ask: AsyncAsk) -> Item:
    talk = Talk(ask, sample, reasks)
    topic, rounds, end = rec.instruction, [], "max_turns"
    for _ in range(p.max_turns):
        text, why = await talk.turn(baize.v2_human_messages(topic, rounds), _human_check, stop=[baize.AI])
        if why:
            end = why
            break
        human = baize.clean_human(text)
        if not human:
            end = "human_done"
            break
        answer, why = await talk.turn(baize.v2_ai_messages(rounds, human), checked())
        if why:
            end = why
            break
        rounds.append((human, answer))
    meta = dict(meta, model=talk.model)
    return finish(rec, _messages(rounds), meta, end=end, raw=talk.raw() if end != "max_turns" else None,
                  min_rounds=p.min_turns)


def run(ctx: StageContext, inputs: list[StageInput], p: SelfChatParams) -> Iterator[Item]:
    reasks = reasks_of(ctx)
    chat = chat_v1 if p.variant == "v1" else chat_v2
    base = {"stage": ctx.stage_id, "method": f"baize_{p.variant}",
            "prompt": load_prompt(baize.PROMPT).ref}

    async def one(rec: Record, sample: int, ask: AsyncAsk) -> Item:
        meta = dict(base, topic=rec.instruction, **({"sample": sample} if p.samples > 1 else {}))
        return await chat(rec, sample, p, reasks, meta, ask)

    yield from run_all(ctx, seed_tasks(ctx, inputs, p.samples, one))


SPEC = OpSpec(
    name="self_chat", fn=run, params=SelfChatParams, version=1, min_inputs=1, uses_llm=True,
    prompts=(baize.PROMPT,),
    doc="Baize self-chat (v1 whole transcript, v2 turn by turn) seeded by each record's first user turn.",
)
