"""Unnatural Instructions: core (`instruction`, `instances` [{instruction_with_input, input,
constraints, output}]) and full (the same plus `reformulations` [{instruction,
instruction_with_input, input, output}]). One record per instance and per reformulation;
`constraints` (the output space) is appended to the prompt, as the card advises for core data.
"""

from __future__ import annotations

from typing import Any, Iterator

from pydantic import Field

from pipeline.adapters.base import (AdapterParams, FieldError, Source, bad_line, fan_out, finish,
                                    need_object, put_meta, reject_row, text)
from pipeline.ops.base import Item, StageContext
from pipeline.record import Rejected

NAME = "unnatural"
DESCRIPTION = "Unnatural Instructions core_data.jsonl / full_data.jsonl (instances and reformulations)"


class Params(AdapterParams):
    constraints: bool = Field(True, description="append an instance's constraints to its prompt")
    reformulations: bool = Field(True, description="also emit the paraphrased reformulations (full data)")
    constraints_separator: str = "\n\n"


def read(src: Source, params: Params, ctx: StageContext) -> Iterator[Item]:
    for where, row in src.rows():
        bad = bad_line(where, row)
        yield from [bad] if bad else fan_out(ctx, convert(row, where, params, src))


def items_of(row: dict, key: str, required: bool) -> list:
    value = row.get(key)
    if value is None and not required:
        return []
    if value is None:
        raise FieldError(key, "missing")
    if not isinstance(value, list) or (required and not value):
        raise FieldError(key, "expected a non-empty list" if required else "expected a list")
    return value


def convert(row: Any, where: str, p: Params, src: Source) -> list[Item]:
    try:
        need_object(row)
        seed_instruction = text(row, "instruction", required=True)
        instances = items_of(row, "instances", True)
        reforms = items_of(row, "reformulations", False) if p.reformulations else []
    except FieldError as err:
        return [reject_row(where, row, err)]
    meta: dict = {"source": src.label, "lang": "en", "seed_instruction": seed_instruction.strip()}
    put_meta(meta, "orig_id", row.get("id"))
    out = [one(inst, f"instances[{i}]", "instance", where, row, p, meta) for i, inst in enumerate(instances)]
    out += [one(ref, f"reformulations[{i}]", "reformulation", where, row, p, meta) for i, ref in enumerate(reforms)]
    return out


def one(item: Any, path: str, kind: str, where: str, row: dict, p: Params, meta: dict) -> Item:
    try:
        if not isinstance(item, dict):
            raise FieldError(path, f"expected an object, got {type(item).__name__}")
        prompt = text(item, "instruction_with_input", required=True)
        output = text(item, "output", required=True)
        constraints = text(item, "constraints") if kind == "instance" else ""
    except FieldError as err:
        field = err.field if err.field == path else f"{path}.{err.field}"
        return reject_row(where, row, FieldError(field, str(err).split(": ", 1)[-1]))
    if not prompt.strip():
        return Rejected("empty_instruction", f"{path}: instruction_with_input is empty", raw=row, where=where)
    if not output.strip():
        return Rejected("empty_output", f"{path}: output is empty", raw=row, where=where)
    if p.constraints and constraints.strip():
        prompt = f"{prompt.strip()}{p.constraints_separator}{constraints.strip()}"
    return finish([{"role": "user", "content": prompt.strip()}, {"role": "assistant", "content": output.strip()}],
                  {**meta, "variant": kind}, where)
