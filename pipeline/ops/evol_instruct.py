"""`evol_instruct` and `evol_code`: Evol-Instruct (WizardLM) and its WizardCoder variant. Read
instruction records; write evolved instruction/response records.

Each instruction evolves for M rounds; each round applies one operation drawn uniformly (the
five in-depth operations and in-breadth, or WizardCoder's five code methods). An evolution that
fails elimination (copied prompt words, no information gain by the LLM equality check, a short
"sorry" response, a response of stop words only) is rejected with its reason and the instruction
stays as it was for the next round; a kept one is answered and evolves further.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Iterator

from pydantic import Field, field_validator

from pipeline.gen.calls import (in_order, max_reasks, model_of, reask_reason, reply_problem, text_request,
                                uses_completions)
from pipeline.llm.reask import ask_with_reasks
from pipeline.llm.replies import raw_text
from pipeline.gen.evol import (BREADTH, CODE_METHODS, DEPTH, OPERATIONS, copied_prompt_words, only_stopwords,
                               parse_equal, sorry_and_short, unchanged)
from pipeline.gen.rounds import summarize
from pipeline.gen.seeds import first_per_instruction, hand_over, read_all
from pipeline.llm.types import Reply
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.prompts import load_prompt
from pipeline.record import Record, Rejected

DEPTH_PROMPT, BREADTH_PROMPT, EQUAL_PROMPT, CODE_PROMPT = "evol_depth", "evol_breadth", "evol_equal", "evol_code"
INHERITED = ("license", "lang")  # an evolution is a rewrite of its seed: it keeps these


class EvolParams(Params):
    rounds: int = Field(4, ge=1, description="evolution rounds (M)")
    operations: tuple[str, ...] = Field(OPERATIONS, description="operations drawn uniformly each round")
    equality_check: bool = Field(True, description="ask the LLM whether an evolution adds information")
    seed: int = Field(0, description="seeds the choice of operations")
    pass_seeds: bool = Field(False, description="also output the input records (else they are consumed)")
    temperature: float = Field(1.0, ge=0, le=2, description="for the evolving calls")
    top_p: float = Field(0.95, gt=0, le=1, description="for the evolving calls")
    max_tokens: int = Field(2048, ge=1, description="for the evolving calls")
    response_max_tokens: int | None = Field(2048, ge=1, description="for the answers (WizardLM: 2048; "
                                                                   "none: the llm block's)")
    response_temperature: float | None = Field(1.0, ge=0, le=2, description="for the answers (WizardLM: 1)")
    response_top_p: float | None = Field(0.95, gt=0, le=1, description="for the answers (WizardLM: 0.95)")
    system: str | None = Field("You are a helpful assistant.",
                               description="system message of the evolving and answering calls (chat "
                                           "endpoints), as WizardLM's; none: no system message")
    eliminate: bool = Field(True, description="apply the elimination rules (copied prompt words, no "
                                              "information gain, sorry, only stop words)")

    @field_validator("operations")
    @classmethod
    def _known(cls, ops: tuple[str, ...]) -> tuple[str, ...]:
        allowed = cls.model_fields["operations"].default
        bad = [o for o in ops if o not in allowed]
        if bad or not ops:
            raise ValueError(f"unknown operations {bad}; choose from {list(allowed)}")
        return ops


class EvolCodeParams(EvolParams):
    operations: tuple[str, ...] = Field(tuple(CODE_METHODS), description="code methods drawn uniformly each round")
    eliminate: bool = Field(False, description="apply Evol-Instruct's elimination rules (WizardCoder does not)")


def build_evolve_prompt(operation: str, instruction: str, code: bool = False) -> tuple[str, str]:
    """(prompt text, prompt ref) that evolves `instruction` by `operation`."""
    if code:
        prompt = load_prompt(CODE_PROMPT)
        return prompt.render(method=CODE_METHODS[operation], instruction=instruction), prompt.ref
    if operation == BREADTH:
        prompt = load_prompt(BREADTH_PROMPT)
        return prompt.render(instruction=instruction), prompt.ref
    prompt = load_prompt(DEPTH_PROMPT)
    return prompt.render(method=DEPTH[operation], instruction=instruction), prompt.ref


def build_equal_prompt(first: str, second: str) -> str:
    return load_prompt(EQUAL_PROMPT).render(first=first, second=second)


class Evolver:
    """Evolves one instruction through its rounds; the plan of operations is drawn up front."""

    def __init__(self, ctx: StageContext, p: EvolParams, code: bool):
        self.ctx, self.p, self.code = ctx, p, code
        self.completion = uses_completions(ctx)
        self.reasks = max_reasks(ctx)

    async def chain(self, ask, slot: int, seed: Record, plan: list[str]) -> tuple[int, list[Item]]:
        text, parent, items = seed.instruction, seed.id, []
        inherited = {k: seed.meta[k] for k in INHERITED if k in seed.meta}
        for rnd, operation in enumerate(plan, start=1):
            item = await self.step(ask, text, parent, operation, rnd, inherited)
            items.append(item)
            if isinstance(item, Record):
                text, parent = item.instruction, item.id
        return slot, items

    async def step(self, ask, text: str, parent: str, operation: str, rnd: int, inherited: dict) -> Item:
        p = self.p
        prompt, ref = build_evolve_prompt(operation, text, self.code)
        request = text_request(prompt, completion=self.completion, sample=rnd, system=p.system,
                               temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens)
        reply, _ = await ask_with_reasks(ask, request, self.reasks, reask_reason)
        meta = {**inherited, "source": "evol_code" if self.code else "evol_instruct", "stage": self.ctx.stage_id,
                "parents": [parent], "operation": operation, "round": rnd, "prompt": ref}
        if model_of(reply):
            meta["model"] = model_of(reply)
        problem = reply_problem(reply)
        if problem:
            return Rejected(problem[0], f"evolving: {problem[1]}", raw=raw_text(reply),
                            where=f"{parent} round {rnd}", extra={"operation": operation})
        evolved = reply.text.strip()
        rec = Record.new([{"role": "user", "content": evolved}], meta)
        if not p.eliminate:
            return await self.answer_only(ask, rec, evolved)
        copied = copied_prompt_words(evolved)
        if copied:
            return Rejected("copied_prompt_words", f"contains {copied!r}", record=rec)
        if unchanged(evolved, text):
            return Rejected("no_information_gain", "the evolved instruction is the original", record=rec)
        return await self.eliminate(ask, rec, text, evolved)

    def answer_request(self, evolved: str):
        p = self.p
        extra = {k: v for k, v in (("max_tokens", p.response_max_tokens), ("temperature", p.response_temperature),
                                   ("top_p", p.response_top_p)) if v is not None}
        return text_request(evolved, completion=self.completion, system=p.system, **extra)

    async def answer_only(self, ask, rec: Record, evolved: str) -> Item:
        """WizardCoder: every evolution is answered and kept; only unusable replies are dropped."""
        answer, _ = await ask_with_reasks(ask, self.answer_request(evolved), self.reasks, reask_reason)
        problem = reply_problem(answer)
        if problem:
            return Rejected(f"response_{problem[0]}", problem[1], record=rec, extra={"raw_reply": raw_text(answer)})
        return Record.new(rec.messages + [{"role": "assistant", "content": answer.text.strip()}], rec.meta)

    async def eliminate(self, ask, rec: Record, original: str, evolved: str) -> Item:
        p = self.p
        asks = [ask_with_reasks(ask, self.answer_request(evolved), self.reasks,
                                partial(reask_reason, refusal_prose=False))]
        if p.equality_check:
            asks.append(ask_with_reasks(ask, text_request(build_equal_prompt(original, evolved),
                                                          completion=self.completion, temperature=0.0, max_tokens=8),
                                        self.reasks, reask_reason))
        replies = [reply for reply, _ in await asyncio.gather(*asks)]
        answer: Reply = replies[0]
        problem = reply_problem(answer, refusal_prose=False)  # a short "sorry" is rule 2's to judge
        if not problem:
            rec = Record.new(rec.messages + [{"role": "assistant", "content": answer.text.strip()}], rec.meta)
        if p.equality_check:
            verdict = equality(replies[1])
            if verdict:
                return Rejected(verdict[0], verdict[1], record=rec, extra={"raw_reply": raw_text(replies[1])})
        if problem:
            return Rejected(f"response_{problem[0]}", problem[1], record=rec, extra={"raw_reply": raw_text(answer)})
        if sorry_and_short(answer.text, original):
            return Rejected("response_sorry", "the answer says sorry in under 80 words", record=rec)
        if only_stopwords(answer.text):
            return Rejected("response_only_stopwords", "the answer holds only stop words and punctuation", record=rec)
        return rec


def equality(reply: Reply) -> tuple[str, str] | None:
    """Why the equality check fails the evolution (equal, unclear or no reply), or None."""
    problem = reply_problem(reply)
    if problem:
        return f"equality_{problem[0]}", problem[1]
    verdict = parse_equal(reply.text)
    if verdict is None:
        return "equality_unclear", f"neither 'Equal' nor 'Not Equal': {reply.text.strip()[:80]!r}"
    return ("no_information_gain", "judged equal to the original") if verdict else None


def run(ctx: StageContext, inputs: list[StageInput], p: EvolParams, code: bool = False) -> Iterator[Item]:
    records = read_all(inputs)
    seeds = first_per_instruction(records)
    yield from hand_over(ctx, records, p.pass_seeds)
    rng = ctx.rng(p.seed)
    plans = [[rng.choice(p.operations) for _ in range(p.rounds)] for _ in seeds]
    evolver = Evolver(ctx, p, code)
    tasks = [lambda ask, i=i: evolver.chain(ask, i, seeds[i], plans[i]) for i in range(len(seeds))]
    for items in in_order(ctx.llm.run_tasks(tasks)):
        ctx.count("generated", len(items))
        for item in items:
            if isinstance(item, Record):
                ctx.count(f"kept_round_{item.meta['round']}")
            yield item
    summarize(ctx, *(f"kept_round_{r}" for r in range(1, p.rounds + 1)))


def run_code(ctx: StageContext, inputs: list[StageInput], p: EvolCodeParams) -> Iterator[Item]:
    yield from run(ctx, inputs, p, code=True)


SPEC = OpSpec(
    name="evol_instruct", fn=run, params=EvolParams, version=2, min_inputs=1, uses_llm=True,
    prompts=(DEPTH_PROMPT, BREADTH_PROMPT, EQUAL_PROMPT),
    doc="Evol-Instruct: M rounds of in-depth/in-breadth evolution with elimination; answers kept evolutions.",
)
CODE_SPEC = OpSpec(
    name="evol_code", fn=run_code, params=EvolCodeParams, version=2, min_inputs=1, uses_llm=True,
    prompts=(CODE_PROMPT, EQUAL_PROMPT),
    doc="WizardCoder code evolution: five code methods, M rounds; every evolution answered (elimination on request).",
)
