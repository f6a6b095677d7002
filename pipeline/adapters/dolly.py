"""Dolly-15k (`instruction`, `context`, `response`, `category`) and its renamed variant
(`input`, `output`, as in AlpaGasus' filtered Dolly). Wikipedia citation markers like `[12]`
are stripped from context and response; `category` is kept in meta.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from pydantic import Field

from pipeline.adapters.base import (AdapterParams, FieldError, Source, bad_line,
                                    instruction_record, need_object, put_meta, reject_row, text)
from pipeline.ops.base import Item, StageContext

NAME = "dolly"
DESCRIPTION = "databricks-dolly-15k (instruction/context/response/category) or its input/output variant"
CITATION = re.compile(r"\[\d+\]")


class Params(AdapterParams):
    strip_citations: bool = Field(True, description="remove [12]-style citation markers")
    input_separator: str = "\n\n"


def read(src: Source, params: Params, ctx: StageContext) -> Iterator[Item]:
    for where, row in src.rows():
        yield bad_line(where, row) or convert(row, where, params, src)


def pick(row: dict, *names: str) -> str:
    """The first of `names` present in the row (Dolly's own name first, then the renamed one)."""
    for name in names:
        if row.get(name) is not None:
            return text(row, name)
    return ""


def convert(row: Any, where: str, p: Params, src: Source) -> Item:
    try:
        need_object(row, "instruction")
        if not {"response", "output"} & row.keys():
            raise FieldError("response", "missing (neither response nor output)")
        instruction = text(row, "instruction")
        context = pick(row, "context", "input")
        response = pick(row, "response", "output")
        category = text(row, "category")
    except FieldError as err:
        return reject_row(where, row, err)
    if p.strip_citations:
        context, response = CITATION.sub("", context), CITATION.sub("", response)
    meta = {"source": src.label, "lang": "en"}
    put_meta(meta, "category", category)
    put_meta(meta, "orig_id", row.get("id"))
    return instruction_record(instruction, context, response, meta, where, row, p.input_separator)
