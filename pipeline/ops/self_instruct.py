"""`self_instruct`: the Self-Instruct loop. Reads seed records (any ingested records); writes
instruction/input/output records (or open instructions with `generate_instances: false`).

Each request shows 8 numbered tasks (6 seeds + 2 kept machine tasks, shuffled) and asks the
model to continue the list. Candidates are cleaned and dropped by the reference rules
(word bounds, banned keywords, `Write a program`, punctuation or non-ASCII start), then by the
ROUGE-L novelty filter against the seeds and every kept instruction, one at a time. Kept
instructions are classified (classification or not) and get instances: output-first for
classification tasks, input-first otherwise.
`lang: zh` (BELLE's Chinese setting) lists tasks with the `self_instruct_tasks_zh` prompt and Chinese
seeds, and judges them by BELLE's rules (characters, its blacklist); answers come from `respond`.
"""

from __future__ import annotations

from functools import partial
from typing import Iterator, Literal

from pydantic import Field, model_validator

from pipeline.errors import InputError
from pipeline.gen.calls import text_request, uses_completions
from pipeline.gen.candidates import judge, list_items, provenance
from pipeline.gen.checks import SELF_INSTRUCT_BANNED, clean_instruction, prompt_line
from pipeline.gen.lists import parse_task_list
from pipeline.gen.novelty import seeded_pool
from pipeline.gen.params import ListGenParams
from pipeline.gen.pieces import Piece
from pipeline.gen.rounds import RoundState, round_size, hold_kept, run_rounds, summarize
from pipeline.gen.seeds import Seed, hand_over, read_all, unique_seeds
from pipeline.gen import finetune_format as ft
from pipeline.gen.self_instruct_instances import INSTANCE_PROMPTS, InstanceParams, with_instances
from pipeline.gen.zh_rules import ZH_BANNED, strip_gpt_phrases, zh_problem
from pipeline.llm.types import Reply, Request
from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.prompts import load_prompt
from pipeline.record import Record, Rejected

TASKS_PROMPT = "self_instruct_tasks"


class SelfInstructParams(InstanceParams, ListGenParams):
    num_prompt_instructions: int = Field(8, ge=1, description="tasks shown in each prompt")
    num_machine_instructions: int = Field(2, ge=0, description="of which kept machine tasks (when there are)")
    max_new_per_request: int = Field(7, ge=1, description="new list items asked for (the reference stops at 16)")
    classification_seeds_only: bool = Field(False, description="prompt with classification seeds only, "
                                            "asking for classification tasks")
    banned_words: tuple[str, ...] = Field(SELF_INSTRUCT_BANNED, description="whole words that reject an instruction")
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.5, gt=0, le=1)
    presence_penalty: float = Field(2.0, ge=-2, le=2)
    max_tokens: int = Field(1024, ge=1)
    generate_instances: bool = Field(True, description="classify each kept task and generate its instances; "
                                     "false: output the instructions as open records")
    finetuning_format: bool = Field(False, description="the reference's training format: instance prompts in "
                                    "its random templates (a lone `Field:` prefix dropped half of the time), "
                                    "the seed instances added in the same format")
    lang: Literal["en", "zh"] = Field("en", description="zh: Chinese task-list prompt and BELLE's rules "
                                      "(instances: answer with a `respond` stage)")

    @model_validator(mode="after")
    def _zh_without_instances(self) -> "SelfInstructParams":
        if self.lang == "zh" and self.generate_instances:
            raise ValueError("lang: zh lists Chinese tasks only: set generate_instances: false and answer "
                             "them with a `respond` stage")
        return self


def tasks_prompt(lang: str) -> str:
    return TASKS_PROMPT if lang == "en" else f"{TASKS_PROMPT}_{lang}"


def build_tasks_prompt(instructions: list[str], *, classification: bool, first: int, last: int,
                       chat: bool, lang: str = "en") -> str:
    """The list prompt: the examples numbered from 1, continued from `first` (up to `last` in chat)."""
    return load_prompt(tasks_prompt(lang)).render(classification=classification,
                                            instructions=[prompt_line(t) for t in instructions],
                                            next=first, last=last, chat=chat)


def stop_sequences(end: int, completion: bool) -> list[str]:
    """The reference stops at a blank line or at item `end`; chat replies may use blank lines."""
    stops = [f"\n{end}", f"{end}.", f"{end} ."]
    return ["\n\n"] + stops if completion else stops


class Bootstrap:
    """State of the instruction loop: seeds, kept machine tasks, the novelty pool, the prompts sent."""

    def __init__(self, ctx: StageContext, p: SelfInstructParams, seeds: list[Seed]):
        self.ctx, self.p, self.seeds = ctx, p, seeds
        self.rng = ctx.rng(p.seed)
        self.completion = uses_completions(ctx)
        self.pool = seeded_pool(p.threshold, [s.instruction for s in seeds])
        self.machine: list[tuple[str, str]] = []
        self.shown: dict[int, list[tuple[str, str]]] = {}
        self.prompt_ref = load_prompt(tasks_prompt(p.lang)).ref

    def examples(self) -> list[tuple[str, str]]:
        """(id, text) of one prompt's tasks: machine ones sampled first, then seeds, shuffled."""
        p = self.p
        machine = self.rng.sample(self.machine, min(p.num_machine_instructions, len(self.machine)))
        k = min(p.num_prompt_instructions - len(machine), len(self.seeds))
        human = [(s.id, s.instruction) for s in self.rng.sample(self.seeds, k)]
        chosen = machine + human
        self.rng.shuffle(chosen)
        return chosen

    def build(self, state: RoundState) -> list[Request]:
        p, out = self.p, []
        for i in range(round_size(state, p.requests_per_round, p.max_new_per_request)):
            shown = self.examples()
            self.shown[state.requests + i] = shown
            first = len(shown) + 1
            end = first + p.max_new_per_request
            prompt = build_tasks_prompt([t for _, t in shown], classification=p.classification_seeds_only,
                                        first=first, last=end - 1, chat=not self.completion, lang=p.lang)
            out.append(text_request(prompt, completion=self.completion, temperature=p.temperature,
                                    top_p=p.top_p, presence_penalty=p.presence_penalty,
                                    frequency_penalty=0.0, max_tokens=p.max_tokens,
                                    stop=stop_sequences(end, self.completion)))
        return out

    def handle(self, reply: Reply, n: int, state: RoundState) -> Iterator[Item]:
        shown = self.shown.pop(n)
        where = f"request {n}"
        meta = provenance(reply, source="self_instruct", stage=self.ctx.stage_id, round=state.round,
                          request=n, prompt=self.prompt_ref, parents=[i for i, _ in shown])
        echoes = {prompt_line(t).lower() for _, t in shown}
        parse = partial(parse_task_list, first=len(shown) + 1, leading_is_item=self.completion)
        yield from list_items(reply, where, parse, lambda pieces: self.judge(pieces, meta, echoes, state))

    def judge(self, pieces: list[Piece], meta: dict, echoes: set[str], state: RoundState) -> list[Item]:
        p, cands = self.p, []
        for piece in pieces:
            text = clean_instruction(piece.fields["instruction"], p.capitalize)
            text = strip_gpt_phrases(text) if p.lang == "zh" else text
            rec = Record.new([{"role": "user", "content": text or piece.raw}],
                             {**meta, "instruction": text, "input": "", **({"lang": "zh"} if p.lang == "zh" else {})})
            zh = zh_problem(text, "", "", ZH_BANNED) if p.lang == "zh" and text else None
            cands.append((Rejected(zh[0], zh[1], record=rec) if zh else rec, text))
        if p.lang == "zh":      # BELLE's rules above replace the word counts and English start rules
            items = judge(cands, p, self.pool, state.room, (), echoes, start_rules=False, count_words=len)
        else:
            items = judge(cands, p, self.pool, state.room, p.banned_words, echoes)
        self.machine += [(it.id, it.meta["instruction"]) for it in items if isinstance(it, Record)]
        return items


def run(ctx: StageContext, inputs: list[StageInput], p: SelfInstructParams) -> Iterator[Item]:
    records = read_all(inputs)
    seeds = unique_seeds(records)
    if p.classification_seeds_only:
        seeds = [s for s in seeds if s.is_classification]
    if not seeds:
        which = "classification seeds (meta.is_classification)" if p.classification_seeds_only else "seeds"
        raise InputError(f"stage {ctx.stage_id}: no {which} in the input ({len(records)} records)")
    if p.finetuning_format and p.generate_instances:
        yield from format_seeds(ctx, records, p)
    else:
        yield from hand_over(ctx, records, p.pass_seeds)
    loop = Bootstrap(ctx, p, seeds)
    items = run_rounds(ctx, target=p.target, build=loop.build, handle=loop.handle,
                       max_rounds=p.max_rounds, patience=p.patience)
    if not p.generate_instances:
        yield from items
        ctx.count("instructions_kept", len(loop.machine))
        summarize(ctx)
        return
    kept: list[Record] = []
    yield from hold_kept(items, kept)
    ctx.count("instructions_kept", len(kept))
    instances = with_instances(ctx, kept, p, loop.completion, p.seed)
    if p.finetuning_format:
        instances = (ft.formatted(it, it.meta["instruction"], it.meta.get("input", ""), p.seed)
                     if isinstance(it, Record) else it for it in instances)
    yield from instances
    summarize(ctx, "instructions_kept")


def format_seeds(ctx: StageContext, records: list[Record], p: SelfInstructParams) -> Iterator[Record]:
    """The seed instances in the fine-tuning format (as `--include_seed_tasks`); others as usual."""
    rest = []
    for rec in records:
        parts = ft.seed_parts(rec)
        if parts:
            yield ft.formatted(rec, *parts, p.seed)
        else:
            rest.append(rec)
    yield from hand_over(ctx, rest, p.pass_seeds)


def prompt_names(p: SelfInstructParams) -> tuple[str, ...]:
    return (tasks_prompt(p.lang), *INSTANCE_PROMPTS) if p.generate_instances else (tasks_prompt(p.lang),)


SPEC = OpSpec(
    name="self_instruct", fn=run, params=SelfInstructParams, version=1, min_inputs=1, uses_llm=True,
    prompts=(TASKS_PROMPT, *INSTANCE_PROMPTS), prompts_for=prompt_names,
    doc="Self-Instruct: grow tasks from seeds (ROUGE-L novelty filter), classify them, generate instances.",
)
