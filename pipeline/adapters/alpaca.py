"""Alpaca format: `instruction`, `input`, `output`, optional `system` and `history` [[q, a], ...].

JSON array or JSONL. `<noinput>` counts as empty. An empty `output` gives an open record
(an instruction waiting for its answer). A missing `instruction` key is `bad_schema:instruction`;
a null or empty one is `empty_instruction`.
"""

from __future__ import annotations

import re
from typing import Iterator

from pydantic import Field

from pipeline.adapters.columns import AlpacaColumns, alpaca_convert
from pipeline.adapters.base import (AdapterParams, FieldError, Source, bad_line,
                                    instruction_record, need_object, put_meta, reject_row, text)
from pipeline.ops.base import Item, StageContext

NAME = "alpaca"
DESCRIPTION = "Alpaca-format instruction data (instruction/input/output, optional system and history)"
NOINPUT = re.compile(r"^\s*<no\s*input>\s*$", re.I)


class Params(AdapterParams):
    input_separator: str = "\n\n"
    columns: AlpacaColumns | None = Field(None, description="the file's field names, e.g. {instruction: question, "
                                                            "output: answer} (also input, system, history)")


def read(src: Source, params: Params, ctx: StageContext) -> Iterator[Item]:
    conv = alpaca_convert(convert, params.columns)
    for where, row in src.rows():
        yield bad_line(where, row) or conv(row, where, params, src)


def convert(row: dict, where: str, params: Params, src: Source) -> Item:
    try:
        need_object(row, "instruction")
        instruction = text(row, "instruction")
        extra = text(row, "input")
        output = text(row, "output")
        system = text(row, "system")
        history = history_turns(row.get("history"))
    except FieldError as err:
        return reject_row(where, row, err)
    if NOINPUT.match(extra):
        extra = ""
    prefix = [{"role": "system", "content": system.strip()}] if system.strip() else []
    meta = {"source": src.label}
    put_meta(meta, "orig_id", row.get("id"))
    put_meta(meta, "category", row.get("category"))
    put_meta(meta, "input", extra.strip())      # kept apart for prompts with an Input section (ifd)
    return instruction_record(instruction, extra, output, meta, where, row, params.input_separator,
                              prefix + history)


def history_turns(history: object) -> list[dict]:
    """LLaMA-Factory `history`: a list of [query, response] pairs."""
    if history is None:
        return []
    if not isinstance(history, list):
        raise FieldError("history", f"expected a list of [query, response] pairs, got {type(history).__name__}")
    turns = []
    for i, pair in enumerate(history):
        if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                or not all(isinstance(x, str) for x in pair)):
            raise FieldError(f"history[{i}]", "expected a [query, response] pair of texts")
        turns += [{"role": "user", "content": pair[0].strip()},
                  {"role": "assistant", "content": pair[1].strip()}]
    return turns
