"""`lamini_instruct`: LaMini-LM's example-guided and topic-guided instruction generation.

Reads seed records (their instructions are the examples). Each of `requests` requests shows 3
examples drawn at random (and, when `topics` are given, 3 topics, LaMini's Wikipedia categories)
and asks for 20 instructions between `<example>` labels, without answers. Writes open instruction
records (`meta.guidance`: example or topic, `meta.topics`) for a `respond` stage. Drops items that
are empty or too long (`too_short`, `too_long` by words), repeat a shown example (`echoed_example`),
or that the ROUGE-L novelty filter finds too similar (`too_similar`); a reply with no labelled
example is `no_items`.
"""

from __future__ import annotations

import re
from typing import Iterator

from pydantic import Field

from pipeline.errors import InputError
from pipeline.gen.calls import text_request
from pipeline.gen.candidates import provenance
from pipeline.gen.novelty import seeded_pool, similarity_meta, too_similar
from pipeline.gen.seeds import hand_over, read_all, unique_seeds
from pipeline.llm.replies import raw_text
from pipeline.llm.types import AsyncAsk
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.prompts import load_prompt
from pipeline.record import Record, Rejected
from pipeline.scoring.ask import in_order, reply_failure

PROMPT = "lamini_instruct"
_EXAMPLE = re.compile(r"<example>(.*?)(?:</example>|(?=<example>)|\Z)", re.S)


class LaminiParams(Params):
    requests: int = Field(10, ge=1, description="requests to send")
    per_request: int = Field(20, ge=1, description="instructions asked for per request (LaMini: 20)")
    examples: int = Field(3, ge=1, description="seed examples shown per request (LaMini: 3)")
    topics: list[str] = Field(default_factory=list, description="topic-guided: topics drawn 3 per request")
    topics_per_request: int = Field(3, ge=1)
    max_words: int = Field(150, ge=1, description="longest instruction kept, in words")
    threshold: float = Field(0.7, gt=0, le=1, description="ROUGE-L F1 novelty bar against seeds and kept")
    pass_seeds: bool = False
    seed: int = 0
    temperature: float = Field(1.0, ge=0, le=2)
    max_tokens: int = Field(2048, ge=1)


def parse_examples(text: str) -> list[str]:
    """The instructions between `<example>` labels (a missing closing label ends at the next one)."""
    return [m.group(1).strip() for m in _EXAMPLE.finditer(text or "") if m.group(1).strip()]


def plan(rng, seeds: list[str], p: LaminiParams) -> list[tuple[list[str], list[str]]]:
    """The examples and topics of every request, drawn up front so a resumed run sends the same."""
    out = []
    for _ in range(p.requests):
        ex = rng.sample(seeds, min(p.examples, len(seeds)))
        tp = rng.sample(p.topics, min(p.topics_per_request, len(p.topics))) if p.topics else []
        out.append((ex, tp))
    return out


def run(ctx: StageContext, inputs: list[StageInput], p: LaminiParams) -> Iterator[Item]:
    records = read_all(inputs)
    seeds = [s.instruction for s in unique_seeds(records)]
    if not seeds:
        raise InputError(f"stage {ctx.stage_id}: no seed instruction in the input; LaMini's prompts need examples")
    yield from hand_over(ctx, records, p.pass_seeds)
    prompt = load_prompt(PROMPT)
    pool = seeded_pool(p.threshold, seeds)
    jobs = plan(ctx.rng(p.seed), seeds, p)

    def workflows():
        for ex, tp in jobs:
            text = prompt.render(examples=ex, total=p.per_request, topics=tp)
            async def one(ask: AsyncAsk, text=text):
                return await ask(text_request(text, completion=False, temperature=p.temperature,
                                              max_tokens=p.max_tokens))
            yield one

    for n, reply in enumerate(in_order(ctx, workflows())):
        for item in request_items(reply, n, jobs[n], pool, p, prompt.ref, ctx.stage_id):
            ctx.count("generated")      # every item of a reply, kept or rejected, is new to the ledger
            yield item


def request_items(reply, n: int, job: tuple[list[str], list[str]], pool, p: LaminiParams, ref: str,
                  stage: str) -> Iterator[Item]:
    ex, tp = job
    why = f"request {n}"
    bad = reply.error or reply_failure(reply)
    if bad and (reply.error or bad.code != "incomplete"):
        yield Rejected("llm_error" if reply.error else bad.code, reply.error or bad.message,
                       raw=raw_text(reply), where=why)
        return
    items = parse_examples(reply.text)
    if not items:
        yield Rejected("no_items", "no <example> in the reply", raw=raw_text(reply), where=why)
        return
    if not reply.complete:      # cut off by the length limit: its last example may be partial
        yield Rejected("truncated", "the reply hit the length limit", raw=items.pop(), where=why)
    meta = provenance(reply, source="lamini_instruct", stage=stage, request=n, prompt=ref,
                      guidance="topic" if tp else "example", topics=tp)
    for text in items:
        yield judge_one(text, meta, ex, pool, p)


def judge_one(text: str, meta: dict, shown: list[str], pool, p: LaminiParams) -> Item:
    rec = Record.new([{"role": "user", "content": text}], dict(meta))
    words = len(text.split())
    if words <= 2:
        return Rejected("too_short", f"{words} words", record=rec)
    if words > p.max_words:
        return Rejected("too_long", f"{words} words > {p.max_words}", record=rec)
    if text.lower() in {s.lower() for s in shown}:
        return Rejected("echoed_example", "repeats an example of the prompt", record=rec)
    (verdict,) = pool.check_many([text])
    if not verdict.keep:
        return too_similar(verdict, p.threshold, rec)
    rec.meta.update(similarity_meta(verdict))
    return rec


SPEC = OpSpec(
    name="lamini_instruct", fn=run, params=LaminiParams, version=1, min_inputs=1, uses_llm=True,
    prompts=(PROMPT,),
    doc="LaMini-LM: 3 seed examples (and 3 topics, topic-guided) per request, 20 new instructions in "
        "<example> labels; novelty-filtered open records for `respond`.",
)
