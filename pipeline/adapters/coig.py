"""COIG and COIG-CQIA files (`instruction`, `input`, `output`, `task_type`, `domain`), Chinese.

`task_type` ({major, minor} lists, or a text) and `domain` are kept in meta, with COIG-CQIA's
`answer_from` and `human_verified`; `meta.category` is the first major task type.
"""

from __future__ import annotations

from typing import Any, Iterator

from pipeline.adapters.base import (AdapterParams, FieldError, Source, bad_line,
                                    instruction_record, need_object, put_meta, reject_row, text,
                                    text_list)
from pipeline.ops.base import Item, StageContext

NAME = "coig"
DESCRIPTION = "COIG / COIG-CQIA Chinese instruction files (instruction/input/output, task_type, domain)"


class Params(AdapterParams):
    input_separator: str = "\n\n"


def read(src: Source, params: Params, ctx: StageContext) -> Iterator[Item]:
    for where, row in src.rows():
        yield bad_line(where, row) or convert(row, where, params, src)


def task_type(value: Any) -> dict | str | None:
    """`{major: [...], minor: [...]}` as given, or a plain text; anything else is an error."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        try:
            return {key: text_list(value, key) for key in value}
        except FieldError as err:
            raise FieldError(f"task_type.{err.field}", str(err).split(": ", 1)[-1]) from None
    raise FieldError("task_type", f"expected an object or text, got {type(value).__name__}")


def convert(row: Any, where: str, p: Params, src: Source) -> Item:
    try:
        need_object(row, "instruction")
        instruction, extra, output = text(row, "instruction"), text(row, "input"), text(row, "output")
        kind = task_type(row.get("task_type"))
        domain = text_list(row, "domain")
    except FieldError as err:
        return reject_row(where, row, err)
    meta: dict = {"source": src.label, "lang": "zh"}
    if kind:
        meta["task_type"] = kind
        major = kind.get("major") if isinstance(kind, dict) else [kind]
        put_meta(meta, "category", major[0] if major else None)
    if domain:
        meta["domain"] = domain
    put_meta(meta, "answer_from", row.get("answer_from"))
    if isinstance(row.get("human_verified"), bool):
        meta["human_verified"] = row["human_verified"]
    put_meta(meta, "orig_id", row.get("id"))
    return instruction_record(instruction, extra, output, meta, where, row, p.input_separator)
