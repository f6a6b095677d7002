"""Self-Instruct's second half: is each kept task a classification task, then its instances
(output-first for classification, input-first otherwise), parsed and filtered as the reference.

Requests use greedy decoding (temperature 0) and stop at `Example {max_instances + 1}` or the
next `Task:`. At most `max_instances` instances are kept per task (a seeded sample).
"""

from __future__ import annotations

import random
from typing import Iterator, Literal

from pydantic import Field

from pipeline.gen.calls import ask_all, reply_problem, text_request
from pipeline.llm.replies import raw_text
from pipeline.gen.instances import (demonstrations, drop_demonstrations, filter_instances,
                                    parse_classification_instances, parse_generation_instances, parse_yes_no)
from pipeline.gen.pieces import Piece
from pipeline.llm.types import Reply
from pipeline.ops.base import Item, Params, StageContext
from pipeline.prompts import load_prompt
from pipeline.record import Record, Rejected

CLF_PROMPT, CLF_INSTANCES, GEN_INSTANCES = ("self_instruct_is_clf", "self_instruct_instances_clf",
                                            "self_instruct_instances_gen")
INSTANCE_PROMPTS = (CLF_PROMPT, CLF_INSTANCES, GEN_INSTANCES)
CHUNK = 256  # tasks per phase: bounds memory and lets records stream out during long runs


class InstanceParams(Params):
    max_instances: int = Field(5, ge=1, description="instances kept per task")
    instance_presence_penalty: float = Field(1.5, ge=-2, le=2)
    classification_answer: Literal["exact", "first_word"] = Field(
        "exact", description="exact: a task is classification only when the stripped reply is Yes, yes or "
                             "YES (the reference); first_word: its first word is yes (chat models' 'Yes.')")


def build_clf_prompt(instruction: str, chat: bool) -> str:
    return load_prompt(CLF_PROMPT).render(instruction=instruction.strip(), chat=chat)


def build_instance_prompt(instruction: str, is_classification: bool, chat: bool) -> str:
    name = CLF_INSTANCES if is_classification else GEN_INSTANCES
    return load_prompt(name).render(instruction=instruction.strip(), chat=chat)


def with_instances(ctx: StageContext, kept: list[Record], p: InstanceParams, completion: bool,
                   seed: int = 0) -> Iterator[Item]:
    """The instance records of each kept task (rejections for tasks and instances that fail)."""
    for start in range(0, len(kept), CHUNK):
        chunk = kept[start:start + CHUNK]
        asks = [text_request(build_clf_prompt(r.meta["instruction"], not completion), completion=completion,
                             tag=i, temperature=0.0, top_p=0.0, max_tokens=3, stop=["\n", "Task"])
                for i, r in enumerate(chunk)]
        labels: list[bool | Rejected] = []
        for rec, reply in zip(chunk, ask_all(ctx, asks)):
            labels.append(classify(ctx, rec, reply, p.classification_answer))
        todo = [(rec, lab) for rec, lab in zip(chunk, labels) if not isinstance(lab, Rejected)]
        asks = [text_request(build_instance_prompt(rec.meta["instruction"], lab, not completion),
                             completion=completion, tag=i, temperature=0.0, top_p=0.0,
                             presence_penalty=p.instance_presence_penalty, max_tokens=300 if lab else 350,
                             stop=[f"Example {p.max_instances + 1}", "Task:"])
                for i, (rec, lab) in enumerate(todo)]
        replies = iter(ask_all(ctx, asks))
        for rec, lab in zip(chunk, labels):
            if isinstance(lab, Rejected):
                yield lab
                continue
            items = instances_of(rec, lab, next(replies), p.max_instances, seed)
            ctx.count("generated", len(items) - 1)
            ctx.count("instances_kept", sum(isinstance(x, Record) for x in items))
            yield from items


def classify(ctx: StageContext, rec: Record, reply: Reply, rule: str = "exact") -> bool | Rejected:
    """True for a classification task; an unclear answer counts as no (as the reference does)."""
    problem = reply_problem(reply)
    if problem:
        return Rejected(problem[0], f"classification check: {problem[1]}", record=rec,
                        extra={"raw_reply": raw_text(reply)})
    answer = (reply.text or "").strip() in ("Yes", "yes", "YES") if rule == "exact" else parse_yes_no(reply.text)
    if answer is None or (rule == "exact" and not answer and parse_yes_no(reply.text) is None):
        ctx.count("classification_unclear")
    ctx.count("classification_tasks" if answer else "generation_tasks")
    return bool(answer)


def instances_of(rec: Record, is_clf: bool, reply: Reply, max_instances: int, seed: int) -> list[Item]:
    """Instance records (kept or rejected with reasons), or the task rejected when none parse."""
    meta = {**rec.meta, "is_classification": is_clf, "instruction_id": rec.id,
            "instance_prompt": load_prompt(CLF_INSTANCES if is_clf else GEN_INSTANCES).ref}
    problem = reply_problem(reply, allow_truncated=True)
    if problem:
        return [Rejected(problem[0], f"instances: {problem[1]}", record=rec, extra={"raw_reply": raw_text(reply)})]
    parse = parse_classification_instances if is_clf else parse_generation_instances
    pieces = filter_instances(parse(reply.text, truncated=not reply.complete))
    pieces = drop_demonstrations(pieces, demonstrations(CLF_INSTANCES if is_clf else GEN_INSTANCES))
    if not any(p.fields for p in pieces):
        return [Rejected("no_instances", "no instance could be parsed", record=rec,
                         extra={"raw_reply": raw_text(reply)})]
    pieces = cap(pieces, max_instances, random.Random(f"{seed}:{rec.id}"))
    return [instance_item(rec, piece, meta) for piece in pieces]


def cap(pieces: list[Piece], limit: int, rng: random.Random) -> list[Piece]:
    """At most `limit` good pieces (a seeded sample, kept in order); the others are dropped."""
    good = [i for i, p in enumerate(pieces) if p.ok]
    if len(good) <= limit:
        return pieces
    chosen = set(rng.sample(good, limit))
    return [p if i in chosen or not p.ok else p.fail("over_max_instances", f"more than {limit} instances")
            for i, p in enumerate(pieces)]


def instance_item(rec: Record, piece: Piece, meta: dict) -> Item:
    if not piece.fields:
        return Rejected(piece.problem or "malformed_item", piece.detail, raw=piece.raw,
                        where=f"instances of {rec.id}")
    instruction, extra = meta["instruction"], piece.fields["input"]
    user = f"{instruction}\n\n{extra}" if extra else instruction
    inst = Record.new([{"role": "user", "content": user}, {"role": "assistant", "content": piece.fields["output"]}],
                      {**meta, "input": extra})
    return inst if piece.ok else Rejected(piece.problem, piece.detail, record=inst)
