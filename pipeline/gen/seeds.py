"""Seed records seen as tasks: instruction, input, output, and classification flag if known.

Any ingested record can seed generation. The instruction and input come from `meta.instruction`
/`meta.input` (records our generators made), else from `meta.seed_instruction` when the first
user turn starts with it (Self-Instruct seeds: the rest is the input), else the whole first
user turn is the instruction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from pipeline.ops.base import StageContext, StageInput
from pipeline.record import Record


@dataclass(frozen=True)
class Seed:
    id: str
    instruction: str
    input: str
    output: str
    is_classification: bool | None = None
    constraints: str = ""


def seed_of(rec: Record) -> Seed:
    meta, user = rec.meta, rec.instruction.strip()
    instruction, extra = user, ""
    if isinstance(meta.get("instruction"), str) and meta["instruction"].strip():
        instruction = meta["instruction"].strip()
        extra = meta.get("input") if isinstance(meta.get("input"), str) else ""
    elif isinstance(meta.get("seed_instruction"), str) and user.startswith(meta["seed_instruction"].strip()):
        instruction = meta["seed_instruction"].strip()
        extra = user[len(instruction):].strip()
    clf = meta.get("is_classification")
    constraints = meta.get("constraints") if isinstance(meta.get("constraints"), str) else ""
    return Seed(rec.id, instruction, extra.strip(), rec.response.strip(),
                clf if isinstance(clf, bool) else None, constraints.strip())


def unique_seeds(records: Iterable[Record]) -> list[Seed]:
    """One seed per distinct instruction (a task with several instances counts once), input order."""
    out, seen = [], set()
    for rec in records:
        seed = seed_of(rec)
        if seed.instruction and seed.instruction not in seen:
            seen.add(seed.instruction)
            out.append(seed)
    return out


def first_per_instruction(records: Iterable[Record]) -> list[Record]:
    """The first record of each distinct, non-empty first user turn, in input order."""
    out, seen = [], set()
    for rec in records:
        if rec.instruction.strip() and rec.instruction not in seen:
            seen.add(rec.instruction)
            out.append(rec)
    return out


def hand_over(ctx: StageContext, records: list[Record], pass_seeds: bool) -> Iterator[Record]:
    """Seed records go to the output (`pass_seeds`) or are counted as `consumed`."""
    if pass_seeds:
        yield from records
    else:
        ctx.count("consumed", len(records))


def read_all(inputs: list[StageInput]) -> list[Record]:
    return [rec for inp in inputs for rec in inp]
