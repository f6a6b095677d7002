"""`guided_instruct`: instructions generated under sampled attributes (LaMini-LM topic guidance,
AttrPrompt attributes, Phi-1-style textbook exercises). Reads optional records (their
instructions join the novelty pool); writes open instruction records for a `respond` stage.

Each request draws one combination from the attributes file (seeded) and asks for a numbered
list of instructions that fit it; the combination goes into `meta.attributes`. Candidates pass
the word bounds and the ROUGE-L novelty filter (script-aware for non-Latin text).
"""

from __future__ import annotations

from functools import partial
from typing import Iterator

from pydantic import Field

from pipeline.gen.attributes import describe, load_attributes
from pipeline.gen.calls import text_request, uses_completions
from pipeline.gen.candidates import judge, list_items, provenance
from pipeline.gen.checks import Capitalize, clean_instruction
from pipeline.gen.lists import parse_task_list
from pipeline.gen.novelty import seeded_pool
from pipeline.gen.params import ListGenParams
from pipeline.gen.pieces import Piece
from pipeline.gen.rounds import RoundState, round_size, run_rounds, summarize
from pipeline.gen.seeds import hand_over, read_all
from pipeline.llm.types import Reply, Request
from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.ops.filter import count_words
from pipeline.prompts import load_prompt
from pipeline.record import Record

PROMPT = "guided_instruct"


class GuidedParams(ListGenParams):
    attributes: str = Field(..., description="YAML file of attributes (topics, subtopics, task_types, styles, "
                            "audiences, lengths, languages)")
    requests_per_round: int = Field(10, ge=1, description="requests sent together in each round")
    per_request: int = Field(5, ge=1, description="instructions asked for in each request")
    threshold: float | None = Field(0.7, gt=0, le=1, description="ROUGE-L novelty threshold (null: no filter)")
    max_words: int = Field(400, ge=1, description="reject instructions with more words")
    banned_words: tuple[str, ...] = Field((), description="whole words that reject an instruction")
    start_rules: bool = Field(False, description="reject instructions starting with punctuation or non-ASCII")
    capitalize: Capitalize = Field("none", description="keep the model's casing")
    temperature: float = Field(1.0, ge=0, le=2)
    max_tokens: int = Field(2048, ge=1)


def build_prompt(combo: dict[str, str], count: int, chat: bool) -> str:
    return load_prompt(PROMPT).render(attributes=describe(combo), count=count, chat=chat)


class GuidedLoop:
    def __init__(self, ctx: StageContext, p: GuidedParams, existing: list[str]):
        self.ctx, self.p = ctx, p
        self.attrs = load_attributes(p.attributes)
        self.rng = ctx.rng(p.seed)
        self.completion = uses_completions(ctx)
        self.pool = seeded_pool(p.threshold, existing) if p.threshold is not None else None
        self.combos: dict[int, dict[str, str]] = {}
        self.prompt_ref = load_prompt(PROMPT).ref

    def build(self, state: RoundState) -> list[Request]:
        p, out = self.p, []
        for i in range(round_size(state, p.requests_per_round, p.per_request)):
            combo = self.attrs.sample(self.rng)
            self.combos[state.requests + i] = combo
            out.append(text_request(build_prompt(combo, p.per_request, not self.completion),
                                    completion=self.completion, temperature=p.temperature,
                                    max_tokens=p.max_tokens))
        return out

    def handle(self, reply: Reply, n: int, state: RoundState) -> Iterator[Item]:
        combo = self.combos.pop(n)
        meta = provenance(reply, source="guided_instruct", stage=self.ctx.stage_id, round=state.round,
                          request=n, prompt=self.prompt_ref, attributes=combo)
        parse = partial(parse_task_list, first=1, leading_is_item=self.completion, blank_ends_item=False)
        yield from list_items(reply, f"request {n}", parse, lambda pieces: self.judge(pieces, meta, state))

    def judge(self, pieces: list[Piece], meta: dict, state: RoundState) -> list[Item]:
        p, cands = self.p, []
        for piece in pieces:
            text = clean_instruction(piece.fields["instruction"], p.capitalize, collapse=False)
            cands.append((Record.new([{"role": "user", "content": text or piece.raw}],
                                     {**meta, "instruction": text}), text))
        return judge(cands, p, self.pool, state.room, p.banned_words, start_rules=p.start_rules,
                     count_words=count_words)


def run(ctx: StageContext, inputs: list[StageInput], p: GuidedParams) -> Iterator[Item]:
    records = read_all(inputs)
    yield from hand_over(ctx, records, p.pass_seeds)
    loop = GuidedLoop(ctx, p, [r.instruction for r in records if r.instruction.strip()])
    yield from run_rounds(ctx, target=p.target, build=loop.build, handle=loop.handle,
                          max_rounds=p.max_rounds, patience=p.patience)
    summarize(ctx)


SPEC = OpSpec(
    name="guided_instruct", fn=run, params=GuidedParams, version=1, min_inputs=0, uses_llm=True,
    path_params=("attributes",), prompts=(PROMPT,),
    doc="Attribute-guided instructions (topics, task types, styles, audiences, ...); the combination in meta.",
)
