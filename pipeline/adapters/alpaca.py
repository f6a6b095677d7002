"""Alpaca format: `instruction`, `input`, `output`, optional `system` and `history` [[q, a], ...].

JSON array or JSONL. `<noinput>` counts as empty. An empty `output` gives an open record
(an instruction waiting for its answer).
"""

from __future__ import annotations

import re
from typing import Iterator

from pipeline.adapters.base import (AdapterParams, FieldError, Source, bad_line, finish, reject_row,
                                    text, user_text)
from pipeline.ops.base import Item, StageContext
from pipeline.record import Rejected

NAME = "alpaca"
DESCRIPTION = "Alpaca-format instruction data (instruction/input/output, optional system and history)"
NOINPUT = re.compile(r"^\s*<no\s*input>\s*$", re.I)


class Params(AdapterParams):
    input_separator: str = "\n\n"


def read(src: Source, params: Params, ctx: StageContext) -> Iterator[Item]:
    for where, row in src.rows():
        yield bad_line(where, row) or convert(row, where, params, src)


def convert(row: dict, where: str, params: Params, src: Source) -> Item:
    try:
        instruction = text(row, "instruction")
        extra = text(row, "input")
        output = text(row, "output")
        system = text(row, "system")
        history = history_turns(row.get("history"))
    except FieldError as err:
        return reject_row(where, row, err)
    if not instruction.strip():
        return Rejected("empty_instruction", "instruction is empty", raw=row, where=where)
    if NOINPUT.match(extra):
        extra = ""
    messages = [{"role": "system", "content": system}] if system.strip() else []
    messages += history
    messages.append({"role": "user", "content": user_text(instruction, extra, params.input_separator)})
    if output.strip():
        messages.append({"role": "assistant", "content": output.strip()})
    meta = {"source": src.label}
    for key in ("id", "category"):
        if isinstance(row.get(key), (str, int)) and not isinstance(row.get(key), bool):
            meta["orig_id" if key == "id" else key] = row[key]
    return finish(messages, meta, where)


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
