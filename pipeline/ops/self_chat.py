"""`self_chat`: Baize self-chat dialogues seeded by each record's first user turn (a topic or question).

v1: one request writes the whole `[Human]`/`[AI]` transcript, parsed as Baize does (preamble and
last segment dropped, stop at the first malformed segment), uncapped unless `max_turns`. v2: per
round, the model writes the next human line (stop at `[AI]`) and a plain chat answers it; the final
exchange is dropped as Baize's preprocessing does (`drop_last`).
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
    max_turns: int | None = Field(None, ge=1, le=100, description="v1: most rounds kept (none: no cap, as "
                                  "Baize); v2: rounds asked for (none: 5)")
    min_turns: int = Field(1, ge=1, description="fewest rounds to keep a dialogue")
    samples: int = Field(1, ge=1, le=64, description="dialogues per seed")
    drop_last: bool = Field(True, description="v2: drop the final exchange, as Baize's preprocessing does "
                                              "(false keeps every round asked for)")


def _v1_check(reply: Reply) -> str | None:
    """A cut-off transcript is fine (its last segment is dropped anyway); an unreadable one is not."""
    why = problem(reply)
    if why in (None, "incomplete"):
        return None if baize.parse_transcript(reply.text or "") else "unparsable"
    return why


V2_ROUNDS = 5


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
    cap = p.max_turns or len(rounds)
    end = "max_turns" if len(rounds) > cap else "transcript_end"
    meta = dict(meta, model=talk.model)
    return finish(rec, _messages(rounds[:cap]), meta, end=end, raw=text, min_rounds=p.min_turns)


async def chat_v2(rec: Record, sample: int, p: SelfChatParams, reasks: int, meta: dict, ask: AsyncAsk) -> Item:
    """Baize's collect_v2 loop: a fixed number of rounds, each a human line (stop at `[AI]`) and its
    answer. An empty human line is a bad reply like any other (re-asked), not the end of the talk."""
    talk = Talk(ask, sample, reasks)
    topic, rounds, end = rec.instruction, [], "max_turns"
    for _ in range(p.max_turns or V2_ROUNDS):
        text, why = await talk.turn(baize.v2_human_messages(topic, rounds), checked(_human_line), stop=[baize.AI])
        if why:
            end = why
            break
        answer, why = await talk.turn(baize.v2_ai_messages(rounds, baize.clean_human(text)), checked())
        if why:
            end = why
            break
        rounds.append((baize.clean_human(text), answer))
    if p.drop_last and end == "max_turns" and rounds:
        rounds, end = rounds[:-1], "last_dropped"   # preprocess.py keeps split("[Human]")[1:-1]
    meta = dict(meta, model=talk.model)
    return finish(rec, _messages(rounds), meta, end=end,
                  raw=talk.raw() if end not in ("max_turns", "last_dropped") else None, min_rounds=p.min_turns)


def _human_line(text: str) -> str | None:
    return None if baize.clean_human(text) else "empty"


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
    name="self_chat", fn=run, params=SelfChatParams, version=2, min_inputs=1, uses_llm=True,
    sharding="record",
    prompts=(baize.PROMPT,),
    doc="Baize self-chat (v1 whole transcript, v2 turn by turn) seeded by each record's first user turn.",
)
