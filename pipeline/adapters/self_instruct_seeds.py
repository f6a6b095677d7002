"""Self-Instruct seed tasks: `id`, `name`, `instruction`, `instances` [{input, output}],
`is_classification`. One record per instance; `is_classification` is kept in meta.
"""

from __future__ import annotations

from typing import Iterator

from pipeline.adapters.base import (AdapterParams, FieldError, Source, bad_line, finish,
                                    reject_row, text, user_text)
from pipeline.ops.base import Item, StageContext
from pipeline.record import Rejected

NAME = "self_instruct_seeds"
DESCRIPTION = "Self-Instruct human-written seed tasks (seed_tasks.jsonl)"


class Params(AdapterParams):
    input_separator: str = "\n\n"


def read(src: Source, params: Params, ctx: StageContext) -> Iterator[Item]:
    for where, row in src.rows():
        bad = bad_line(where, row)
        if bad:
            yield bad
            continue
        items = convert(row, where, params, src)
        ctx.count("generated", len(items) - 1)
        yield from items


def convert(row: dict, where: str, params: Params, src: Source) -> list[Item]:
    try:
        instruction = text(row, "instruction", required=True)
        instances = row.get("instances")
        if instances is None:
            raise FieldError("instances", "missing")
        if not isinstance(instances, list) or not instances:
            raise FieldError("instances", "expected a non-empty list of {input, output}")
        is_clf = row.get("is_classification", False)
        if not isinstance(is_clf, bool):
            raise FieldError("is_classification", f"expected true/false, got {is_clf!r}")
    except FieldError as err:
        return [reject_row(where, row, err)]
    if not instruction.strip():
        return [Rejected("empty_instruction", "instruction is empty", raw=row, where=where)]
    meta = {"source": src.label, "is_classification": is_clf, "seed_instruction": instruction.strip()}
    for key, name in (("id", "orig_id"), ("name", "task")):
        if isinstance(row.get(key), str):
            meta[name] = row[key]
    items: list[Item] = []
    for j, inst in enumerate(instances):
        try:
            if not isinstance(inst, dict):
                raise FieldError(f"instances[{j}]", "expected an object")
            extra, output = text(inst, "input"), text(inst, "output")
        except FieldError as err:
            items.append(reject_row(where, row, FieldError(f"instances[{j}].{err.field}",
                                                           str(err).split(": ", 1)[-1])))
            continue
        messages = [{"role": "user", "content": user_text(instruction, extra, params.input_separator)}]
        if output.strip():
            messages.append({"role": "assistant", "content": output.strip()})
        items.append(finish(messages, dict(meta), where))
    return items
