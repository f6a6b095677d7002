"""`role_play`: CAMEL role-playing between an AI user (who instructs) and an AI assistant (who solves).

Roles come from the recipe or are generated; tasks per role pair are given or generated; each
task is made specific (word limit), then the two agents, each with its inception system prompt,
talk until a termination rule fires (task done, message cap, user stops instructing, assistant
instructs, repeated farewells, an agent cut off). Writes one conversation per (pair, task):
instructions as `user`, solutions as `assistant`; meta keeps roles, tasks and the termination
reason. Takes no inputs. Rejects `bad_task_list`, `too_few_turns`, `llm_error` and bad replies.
"""

from __future__ import annotations

from functools import partial
from typing import Iterator, Literal

from pydantic import Field

from pipeline.chat import camel
from pipeline.chat.camel import Limits, Referee
from pipeline.chat.talk import Talk, checked, finish, reasks_of, run_all
from pipeline.errors import ParseError
from pipeline.llm.types import AsyncAsk
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.prompts import load_prompt
from pipeline.record import Record, Rejected


class RolePlayParams(Params):
    assistant_roles: list[str] = Field(default_factory=list, description="given roles (else generated)")
    user_roles: list[str] = Field(default_factory=list, description="given roles (else generated)")
    num_roles: int = Field(50, ge=1, le=500, description="roles to generate per side")
    tasks: list[str] = Field(default_factory=list, description="given tasks for every pair (else generated)")
    num_tasks: int = Field(10, ge=1, le=100, description="tasks to generate per role pair")
    specify: bool = Field(True, description="make each task specific with the task specifier")
    word_limit: int = Field(50, ge=5, le=500)
    specify_temperature: float | None = Field(1.4, ge=0, le=2)
    max_messages: int = Field(40, ge=2, description="cap on user + assistant messages")
    user_no_instruct_threshold: int = Field(3, ge=1)
    assistant_instruct_threshold: int = Field(1, ge=1)
    repeat_word_threshold: int = Field(4, ge=1)
    repeat_word_rule: Literal["reference", "consecutive"] = Field(
        "reference", description="reference: CAMEL's counter as its code runs (never ends a conversation); "
                                 "consecutive: stop after `repeat_word_threshold` farewell steps in a row")
    agent_temperature: float | None = Field(0.2, ge=0, le=2, description="both agents' temperature (CAMEL: 0.2)")
    repeat_words: list[str] = Field(default_factory=lambda: list(camel.FAREWELLS))
    keep_system: bool = Field(False, description="keep the assistant's inception prompt as system message")


def _roles(ctx: StageContext, side: str, given: list[str], n: int, reasks: int) -> list[str]:
    if given:
        return list(given)
    check = checked(lambda t: None if camel.parse_roles(t, n) else "unparsable")
    got = list(ctx.llm.run_tasks([partial(_ask_once, camel.roles_messages(side, n), check, reasks)]))
    if not got:                 # nothing answered (a dry run renders only this first request)
        return []
    text, why = got[0]
    if why:
        raise ParseError(f"[{ctx.stage_id}] could not get a list of {side} roles from the model ({why}); "
                         f"give `{side}_roles` in the recipe instead")
    return camel.parse_roles(text, n)


async def _ask_once(messages: list[dict], check, reasks: int, ask: AsyncAsk):
    return await Talk(ask, 0, reasks).turn(messages, check)


def _task_lists(ctx: StageContext, pairs: list[tuple[str, str]], p: RolePlayParams, reasks: int):
    """(pair, tasks or None, raw text) for every pair, in pair order."""
    if p.tasks:
        return [(pair, list(p.tasks), None) for pair in pairs]
    check = checked(lambda t: None if camel.parse_tasks(t, p.num_tasks) else "bad_task_list")

    async def one(i: int, pair: tuple[str, str], ask: AsyncAsk):
        talk = Talk(ask, 0, reasks)
        text, why = await talk.turn(camel.tasks_messages(*pair, p.num_tasks), check)
        return i, pair, (camel.parse_tasks(text, p.num_tasks) if not why else None), talk.raw()

    got = sorted(ctx.llm.run_tasks(partial(one, i, pair) for i, pair in enumerate(pairs)))
    return [(pair, tasks, raw) for _, pair, tasks, raw in got]


async def play(talk: Talk, ref: Referee, a_sys: str, u_sys: str) -> tuple[list[tuple[str, str]], str]:
    """The agents' exchange until a termination rule fires: (kept pairs, termination reason)."""
    pairs: list[tuple[str, str]] = []
    agent_check = checked(refusal_prose=False)   # an honest decline is part of CAMEL's protocol
    while True:
        instruction, why = await talk.turn(camel.user_agent_messages(u_sys, pairs), agent_check)
        if why:
            return pairs, "llm_error" if why == "llm_error" else "user_terminated"
        end = ref.after_user(instruction)
        if end:
            return pairs, end
        solution, why = await talk.turn(camel.assistant_agent_messages(a_sys, pairs, instruction), agent_check)
        if why:
            return pairs, "llm_error" if why == "llm_error" else "assistant_terminated"
        end = ref.after_pair(instruction, solution)
        if end:
            return pairs, end
        pairs.append((instruction, solution))
        end = ref.keep_pair()
        if end:
            return pairs, end


async def converse(a_role: str, u_role: str, task: str, p: RolePlayParams, reasks: int, meta: dict,
                   ask: AsyncAsk) -> Item:
    agents = {"temperature": p.agent_temperature} if p.agent_temperature is not None else {}
    talk, where = Talk(ask, 0, reasks, agents), f"{a_role} | {u_role} | {task}"
    specified = task
    if p.specify:
        extra = {"temperature": p.specify_temperature} if p.specify_temperature is not None else {}
        specified, why = await talk.turn(camel.specify_messages(a_role, u_role, task, p.word_limit),
                                         checked(), **extra)
        if why:
            return Rejected(why, "task specifier", raw=talk.raw(), where=where)
    a_sys, u_sys = camel.system_prompts(a_role, u_role, specified)
    ref = Referee(Limits(p.max_messages, p.user_no_instruct_threshold, p.assistant_instruct_threshold,
                         p.repeat_word_threshold, tuple(w.lower() for w in p.repeat_words),
                         p.repeat_word_rule))
    pairs, end = await play(talk, ref, a_sys, u_sys)
    messages = [{"role": "system", "content": a_sys}] if p.keep_system else []
    for instruction, solution in pairs:
        messages += [{"role": "user", "content": instruction}, {"role": "assistant", "content": solution}]
    meta = dict(meta, assistant_role=a_role, user_role=u_role, original_task=task, specified_task=specified,
                num_messages=ref.messages, model=talk.model,
                **({"repeat_word_hits": ref.repeat_hits} if ref.repeat_hits else {}))
    seed = Record.new([{"role": "user", "content": task}], {})
    item = finish(seed, messages, meta, end=end, raw=talk.raw())
    if isinstance(item, Record):
        item.meta.pop("parents", None)   # the seed is a task text, not a record of any stage
        return item
    return Rejected(item.reason, item.detail, raw=item.raw, where=where,
                    extra={**item.extra, "messages": messages})


def run(ctx: StageContext, inputs: list[StageInput], p: RolePlayParams) -> Iterator[Item]:
    reasks = reasks_of(ctx)
    a_roles = _roles(ctx, "assistant", p.assistant_roles, p.num_roles, reasks)
    u_roles = _roles(ctx, "user", p.user_roles, p.num_roles, reasks)
    pairs = [(a, u) for a in a_roles for u in u_roles]
    meta = {"stage": ctx.stage_id, "method": "camel", "prompt": load_prompt("camel_assistant_system").ref}
    jobs = []
    for pair, tasks, raw in _task_lists(ctx, pairs, p, reasks):
        if tasks is None:
            ctx.count("generated")
            yield Rejected("bad_task_list", f"expected exactly {p.num_tasks} numbered tasks", raw=raw,
                           where=" | ".join(pair))
            continue
        jobs += [partial(converse, pair[0], pair[1], task, p, reasks, meta) for task in tasks]
    ctx.count("generated", len(jobs))
    yield from run_all(ctx, jobs)


SPEC = OpSpec(
    name="role_play", fn=run, params=RolePlayParams, version=2, min_inputs=0, max_inputs=0, uses_llm=True,
    prompts=camel.PROMPTS,
    doc="CAMEL role-playing: AI user and AI assistant roles, specified tasks, inception prompts, termination rules.",
)
