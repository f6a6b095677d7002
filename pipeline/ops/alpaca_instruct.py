"""`alpaca_instruct`: the Stanford Alpaca generator. Reads seed records; writes
instruction/input/output records.

Each request shows 3 seed tasks (instruction, input or `<noinput>`, output) and asks for a list
of 20; the reply's `###` blocks are parsed (a block cut off by the length limit is dropped),
filtered by the Alpaca rules (word bounds, 18 banned keywords, `Write a program`, punctuation
or non-ASCII start) and by the ROUGE-L novelty filter against the seeds and every kept
instruction.
`lang: zh` is BELLE's Chinese variant: the `alpaca_instruct_zh` prompt and Chinese seeds, `指令/输入/输出`
blocks, and BELLE's rules (lengths in characters, its blacklist as substrings, GPT phrases cut).
"""

from __future__ import annotations

from functools import partial
from typing import Iterator, Literal

from pydantic import Field

from pipeline.errors import InputError
from pipeline.gen.calls import text_request, uses_completions
from pipeline.gen.candidates import judge, list_items, provenance
from pipeline.gen.checks import ALPACA_BANNED, Capitalize, clean_instruction, prompt_line
from pipeline.gen.lists import parse_alpaca_tasks
from pipeline.gen.novelty import seeded_pool
from pipeline.gen.params import ListGenParams
from pipeline.gen.pieces import Piece
from pipeline.gen.rounds import RoundState, round_size, run_rounds, summarize
from pipeline.gen.seeds import Seed, hand_over, read_all, unique_seeds
from pipeline.gen.zh_rules import ZH_BANNED, parse_zh_tasks, strip_gpt_phrases, zh_problem
from pipeline.llm.types import Reply, Request
from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.prompts import load_prompt
from pipeline.record import Record, Rejected

PROMPT = "alpaca_instruct"


class AlpacaParams(ListGenParams):
    num_prompt_instructions: int = Field(3, ge=1, description="seed tasks shown in each prompt")
    tasks_per_request: int = Field(20, ge=2, description="list length asked for, the examples included")
    banned_words: tuple[str, ...] = Field(ALPACA_BANNED, description="whole words that reject an instruction")
    capitalize: Capitalize = Field("none", description="Alpaca keeps the model's casing")
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(3072, ge=1)
    lang: Literal["en", "zh"] = Field("en", description="zh: BELLE's Chinese prompt, blocks and rules")


def prompt_name(lang: str) -> str:
    return PROMPT if lang == "en" else f"{PROMPT}_{lang}"


def build_prompt(demos: list[Seed], total: int, chat: bool, lang: str = "en") -> str:
    shown = [{"instruction": prompt_line(d.instruction), "input": d.input, "output": d.output} for d in demos]
    return load_prompt(prompt_name(lang)).render(demos=shown, total=total, next=len(demos) + 1, chat=chat)


class AlpacaLoop:
    def __init__(self, ctx: StageContext, p: AlpacaParams, seeds: list[Seed]):
        self.ctx, self.p, self.seeds = ctx, p, seeds
        self.rng = ctx.rng(p.seed)
        self.completion = uses_completions(ctx)
        self.pool = seeded_pool(p.threshold, [s.instruction for s in seeds])
        self.shown: dict[int, list[Seed]] = {}
        self.prompt_ref = load_prompt(prompt_name(p.lang)).ref
        # the English default list does not apply to Chinese text: BELLE's list does
        self.zh_banned = ZH_BANNED if p.banned_words == ALPACA_BANNED else tuple(p.banned_words)

    def build(self, state: RoundState) -> list[Request]:
        p, out = self.p, []
        total = p.tasks_per_request
        for i in range(round_size(state, p.requests_per_round, total - p.num_prompt_instructions)):
            demos = self.rng.sample(self.seeds, min(p.num_prompt_instructions, len(self.seeds)))
            self.shown[state.requests + i] = demos
            out.append(text_request(build_prompt(demos, total, not self.completion, p.lang),
                                    completion=self.completion,
                                    temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens,
                                    stop=[f"\n{total}", f"{total}."]))
        return out

    def handle(self, reply: Reply, n: int, state: RoundState) -> Iterator[Item]:
        demos = self.shown.pop(n)
        where = f"request {n}"
        meta = provenance(reply, source="alpaca_instruct", stage=self.ctx.stage_id, round=state.round,
                          request=n, prompt=self.prompt_ref, parents=[d.id for d in demos])
        parser = parse_zh_tasks if self.p.lang == "zh" else parse_alpaca_tasks
        parse = partial(parser, first=len(demos) + 1, leading_is_item=self.completion)
        echoes = {prompt_line(d.instruction).lower() for d in demos}
        yield from list_items(reply, where, parse, lambda pieces: self.judge(pieces, meta, echoes, state))

    def judge(self, pieces: list[Piece], meta: dict, echoes: set[str], state: RoundState) -> list[Item]:
        p, cands = self.p, []
        for piece in pieces:
            f = piece.fields
            text = clean_instruction(f["instruction"], p.capitalize)
            text = strip_gpt_phrases(text) if p.lang == "zh" else text
            user = f"{text}\n\n{f['input']}" if f["input"] else text
            messages = [{"role": "user", "content": user}]
            if f["output"]:
                messages.append({"role": "assistant", "content": f["output"]})
            rec = Record.new(messages, {**meta, "instruction": text, "input": f["input"],
                                         **({"lang": "zh"} if p.lang == "zh" else {})})
            zh = zh_problem(text, f["input"], f["output"], self.zh_banned) if p.lang == "zh" else None
            if not f["output"]:
                rec = Rejected("empty_output", "the task has no output", record=rec)
            elif zh:
                rec = Rejected(zh[0], zh[1], record=rec)
            cands.append((rec, text))
        if p.lang == "zh":      # BELLE's rules above replace the word counts and English start rules
            return judge(cands, p, self.pool, state.room, (), echoes, start_rules=False, count_words=len)
        return judge(cands, p, self.pool, state.room, p.banned_words, echoes)


def run(ctx: StageContext, inputs: list[StageInput], p: AlpacaParams) -> Iterator[Item]:
    records = read_all(inputs)
    seeds = [s for s in unique_seeds(records) if s.output]
    if not seeds:
        raise InputError(f"stage {ctx.stage_id}: no seed with an answer in the input ({len(records)} records); "
                         "Alpaca demos need instruction, input and output")
    yield from hand_over(ctx, records, p.pass_seeds)
    loop = AlpacaLoop(ctx, p, seeds)
    yield from run_rounds(ctx, target=p.target, build=loop.build, handle=loop.handle,
                          max_rounds=p.max_rounds, patience=p.patience)
    summarize(ctx)


SPEC = OpSpec(
    name="alpaca_instruct", fn=run, params=AlpacaParams, version=1, min_inputs=1, uses_llm=True,
    prompts=(PROMPT,), prompts_for=lambda p: (prompt_name(p.lang),),
    doc="Alpaca: 3 seed demos per request, up to 20 tasks with input and output, rules + ROUGE-L novelty; "
        "lang: zh for BELLE's Chinese prompt and rules.",
)
