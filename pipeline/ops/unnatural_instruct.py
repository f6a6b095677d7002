"""`unnatural_instruct`: Unnatural Instructions. Reads seed records; writes
instruction/input(/constraints)/output records, and optionally reformulations.

Each request shows 3 seed examples (instruction, input, constraints) and asks for a fourth; a
malformed or duplicate example is rejected. Each kept example's output is then generated on its
own with greedy decoding. With `reformulations: k`, the model also rephrases each instruction k
times with an `{INPUT}` placeholder; rephrasings without it are rejected.
"""

from __future__ import annotations

import re
from typing import Iterator

from pydantic import Field

from pipeline.errors import InputError
from pipeline.gen.calls import ask_all, reply_problem, text_request, uses_completions
from pipeline.llm.replies import raw_text
from pipeline.gen.candidates import provenance
from pipeline.gen.params import RoundParams
from pipeline.gen.rounds import RoundState, round_size, hold_kept, run_rounds, summarize
from pipeline.gen.seeds import Seed, hand_over, read_all, unique_seeds
from pipeline.gen.unnatural import PLACEHOLDER, clean_reformulation, has_placeholder, parse_example
from pipeline.llm.types import Reply, Request
from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.prompts import load_prompt
from pipeline.record import Record, Rejected

PROMPT, OUTPUT_PROMPT, REFORM_PROMPT = "unnatural_instruct", "unnatural_output", "unnatural_reformulate"
CHUNK = 256
NO_CONSTRAINTS = "None."


class UnnaturalParams(RoundParams):
    requests_per_round: int = Field(10, ge=1, description="requests sent together in each round")
    num_demos: int = Field(3, ge=1, description="seed examples shown in each request")
    temperature: float = Field(1.0, ge=0, le=2, description="for generating examples")
    top_p: float = Field(0.99, gt=0, le=1, description="for generating examples")
    max_tokens: int = Field(1024, ge=1, description="for generating examples")
    output_max_tokens: int | None = Field(None, ge=1, description="for the greedy outputs")
    constraints_in_prompt: bool = Field(True, description="append the constraints to the user turn")
    reformulations: int = Field(0, ge=0, description="rephrasings per example with an {INPUT} placeholder")


def demo_view(seed: Seed) -> dict:
    return {"instruction": " ".join(seed.instruction.split()), "input": seed.input,
            "constraints": seed.constraints or NO_CONSTRAINTS}


def build_prompt(demos: list[Seed], chat: bool) -> str:
    return load_prompt(PROMPT).render(demos=[demo_view(d) for d in demos], chat=chat)


def build_output_prompt(fields: dict, chat: bool) -> str:
    return load_prompt(OUTPUT_PROMPT).render(instruction=fields["instruction"], input=fields["input"],
                                             constraints=fields["constraints"], chat=chat)


def build_reformulation_prompt(fields: dict) -> str:
    return load_prompt(REFORM_PROMPT).render(instruction=fields["instruction"], input=fields["input"])


def dedup_key(instruction: str, extra: str) -> tuple[str, str]:
    return " ".join(instruction.lower().split()), " ".join(extra.lower().split())


def user_turn(instruction: str, extra: str, constraints: str, with_constraints: bool) -> str:
    parts = [instruction, extra]
    if with_constraints and constraints and constraints.rstrip(".").lower() != "none":
        parts.append(constraints)
    return "\n\n".join(x for x in parts if x)


class ExampleLoop:
    def __init__(self, ctx: StageContext, p: UnnaturalParams, seeds: list[Seed]):
        self.ctx, self.p, self.seeds = ctx, p, seeds
        self.rng = ctx.rng(p.seed)
        self.completion = uses_completions(ctx)
        self.seen = {dedup_key(s.instruction, s.input) for s in seeds}
        self.shown: dict[int, list[Seed]] = {}
        self.prompt_ref = load_prompt(PROMPT).ref

    def build(self, state: RoundState) -> list[Request]:
        p, out = self.p, []
        for i in range(round_size(state, p.requests_per_round, 1)):
            demos = self.rng.sample(self.seeds, min(p.num_demos, len(self.seeds)))
            self.shown[state.requests + i] = demos
            out.append(text_request(build_prompt(demos, not self.completion), completion=self.completion,
                                    temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens,
                                    stop=[f"Example {len(demos) + 2}"]))
        return out

    def handle(self, reply: Reply, n: int, state: RoundState) -> Iterator[Item]:
        demos, where = self.shown.pop(n), f"request {n}"
        problem = reply_problem(reply, allow_truncated=True)
        if problem:
            yield Rejected(problem[0], problem[1], raw=raw_text(reply), where=where)
            return
        piece = parse_example(reply.text, truncated=not reply.complete)
        if not piece.ok:
            yield Rejected(piece.problem, piece.detail, raw=piece.raw, where=where)
            return
        f = piece.fields
        meta = provenance(reply, source="unnatural_instruct", stage=self.ctx.stage_id, round=state.round,
                          request=n, prompt=self.prompt_ref, parents=[d.id for d in demos], variant="instance",
                          instruction=f["instruction"], input=f["input"], constraints=f["constraints"])
        user = user_turn(f["instruction"], f["input"], f["constraints"], self.p.constraints_in_prompt)
        rec = Record.new([{"role": "user", "content": user}], meta)
        key = dedup_key(f["instruction"], f["input"])
        if key in self.seen:
            yield Rejected("duplicate", "the same instruction and input as a seed or an earlier example", record=rec)
        elif state.room <= 0:
            yield Rejected("target_reached", f"{self.p.target} examples already kept", record=rec)
        else:
            self.seen.add(key)
            yield rec


def with_outputs(ctx: StageContext, kept: list[Record], p: UnnaturalParams, completion: bool) -> Iterator[Item]:
    """Each example with its greedy output, then its reformulations (in chunks)."""
    extra = {"max_tokens": p.output_max_tokens} if p.output_max_tokens else {}
    for start in range(0, len(kept), CHUNK):
        chunk = kept[start:start + CHUNK]
        asks = [text_request(build_output_prompt(r.meta, not completion), completion=completion, tag=i,
                             temperature=0.0, **extra) for i, r in enumerate(chunk)]
        done = []
        for rec, reply in zip(chunk, ask_all(ctx, asks)):
            problem = reply_problem(reply)
            if problem:
                yield Rejected(f"output_{problem[0]}", problem[1], record=rec, extra={"raw_reply": raw_text(reply)})
                continue
            full = Record.new(rec.messages + [{"role": "assistant", "content": reply.text.strip()}],
                              {**rec.meta, "output_prompt": load_prompt(OUTPUT_PROMPT).ref})
            done.append(full)
            yield full
        if p.reformulations:
            yield from reformulations(ctx, done, p, completion)


def reformulations(ctx: StageContext, examples: list[Record], p: UnnaturalParams, completion: bool) -> Iterator[Item]:
    todo = [r for r in examples if r.meta["input"].strip()]
    ctx.count("reformulation_skipped_no_input", len(examples) - len(todo))
    k = p.reformulations
    asks = [text_request(build_reformulation_prompt(r.meta), completion=completion, sample=j, tag=i * k + j,
                         temperature=1.0) for i, r in enumerate(todo) for j in range(k)]
    replies = ask_all(ctx, asks)
    ref = load_prompt(REFORM_PROMPT).ref
    for i, rec in enumerate(todo):
        seen: set[str] = set()
        for reply in replies[i * k:(i + 1) * k]:
            ctx.count("generated")
            yield reformulated(rec, reply, seen, p, ref)


def reformulated(rec: Record, reply: Reply, seen: set[str], p: UnnaturalParams, ref: str) -> Item:
    problem = reply_problem(reply)
    if problem:
        return Rejected(f"reformulation_{problem[0]}", problem[1], raw=raw_text(reply),
                        where=f"reformulation {reply.request.sample} of {rec.id}")
    text = clean_reformulation(reply.text)
    m = rec.meta
    prompt = text.replace(PLACEHOLDER, m["input"])
    user = user_turn(prompt, "", m["constraints"], p.constraints_in_prompt)
    new = rec.derive([{"role": "user", "content": user}, rec.messages[-1]], variant="reformulation",
                     instruction_with_placeholder=text, prompt=ref)
    if not has_placeholder(text):
        return Rejected("no_input_placeholder", "the rephrasing has no {INPUT} placeholder", record=new)
    if re.sub(r"\s+", " ", text).lower() in seen:
        return Rejected("duplicate", "the same rephrasing again", record=new)
    seen.add(re.sub(r"\s+", " ", text).lower())
    return new


def run(ctx: StageContext, inputs: list[StageInput], p: UnnaturalParams) -> Iterator[Item]:
    records = read_all(inputs)
    seeds = unique_seeds(records)
    if not seeds:
        raise InputError(f"stage {ctx.stage_id}: no seed instruction in the input ({len(records)} records)")
    yield from hand_over(ctx, records, p.pass_seeds)
    loop = ExampleLoop(ctx, p, seeds)
    kept: list[Record] = []
    yield from hold_kept(run_rounds(ctx, target=p.target, build=loop.build, handle=loop.handle,
                                    max_rounds=p.max_rounds, patience=p.patience), kept)
    yield from with_outputs(ctx, kept, p, loop.completion)
    summarize(ctx)


SPEC = OpSpec(
    name="unnatural_instruct", fn=run, params=UnnaturalParams, version=1, min_inputs=1, uses_llm=True,
    prompts=(PROMPT, OUTPUT_PROMPT, REFORM_PROMPT),
    doc="Unnatural Instructions: 3 seed demos, a 4th example, greedy outputs, optional {INPUT} reformulations.",
)
