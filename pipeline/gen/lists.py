"""Parsers for generated task lists: numbered lists (`9. task`, `Task 9: task`) and Alpaca blocks
(`###` / `N. Instruction:` / `N. Input:` / `N. Output:`).

`leading_is_item` says the reply continues the prompt (completion endpoints: the prompt ends
with `9.`, so the text before the first number is item 9); for chat replies that text is
commentary. An item ends at a blank line, as the reference's `\\n\\n` stop sequence ensured.
"""

from __future__ import annotations

import re

from pipeline.gen.pieces import Piece, mark_truncated

_MARK = re.compile(r"(?m)^[ \t]*(?:\*\*)?(?:Task[ \t]*)?(\d+)[ \t]?[.:)](?:\*\*)?[ \t]+")
_BLANK = re.compile(r"\n[ \t]*\n")
_ALPACA_FIELD = re.compile(r"(\d+)\.\s+(Instruction|Input|Output):")
_ALPACA_START = re.compile(r"^\s*(?:###|\d+\.\s+Instruction:)")
NOINPUT = re.compile(r"^\s*<\s*no\s*input\s*>\s*$", re.IGNORECASE)


def _item_and_tail(number: int | None, body: str, blank_ends_item: bool) -> list[Piece]:
    """An item's text up to the first blank line; anything after it is commentary."""
    parts = _BLANK.split(body.strip(), maxsplit=1) if blank_ends_item else [body.strip()]
    out = [Piece({"instruction": parts[0].strip()}, parts[0], number)]
    if len(parts) > 1 and parts[1].strip():
        out.append(Piece({}, parts[1].strip(), None, "commentary", "text after the list item"))
    return out


def parse_task_list(text: str, first: int, *, leading_is_item: bool, truncated: bool = False,
                    blank_ends_item: bool = True) -> list[Piece]:
    """The numbered tasks of a reply, in order; `first` is the number the list continues from.

    With `blank_ends_item` false an item runs to the next number (items holding paragraphs).
    """
    text = text.replace("\r\n", "\n")
    marks = list(_MARK.finditer(text))
    pieces: list[Piece] = []
    head = text[:marks[0].start()] if marks else text
    if head.strip():
        if leading_is_item:
            pieces += _item_and_tail(first, head, blank_ends_item)
        else:
            pieces.append(Piece({}, head.strip(), None, "commentary", "text before the list"))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        pieces += _item_and_tail(int(m.group(1)), text[m.end():end], blank_ends_item)
    return mark_truncated(pieces) if truncated else pieces


def parse_alpaca_tasks(text: str, first: int, *, leading_is_item: bool, truncated: bool = False) -> list[Piece]:
    """Alpaca `###`-separated blocks, each with Instruction, Input and Output under one number.

    `<noinput>` becomes an empty input. A block without all three fields in that order under the
    same number is `malformed_item`; text with no field at all (a chat preamble) is `commentary`.
    """
    text = text.replace("\r\n", "\n")
    if leading_is_item and not _ALPACA_START.match(text):
        text = f"{first}. Instruction:" + text
    pieces = [_alpaca_block(chunk) for chunk in text.split("###") if chunk.strip()]
    return mark_truncated(pieces) if truncated else pieces


def _alpaca_block(chunk: str) -> Piece:
    parts = _ALPACA_FIELD.split(chunk)
    raw = chunk.strip()
    if len(parts) == 1:
        return Piece({}, raw, None, "commentary", "no Instruction/Input/Output fields")
    numbers, names = parts[1::3], parts[2::3]
    values = [v.strip() for v in parts[3::3]]
    number = int(numbers[0])
    if names != ["Instruction", "Input", "Output"] or len(set(numbers)) != 1 or parts[0].strip():
        found = ", ".join(f"{n}. {f}" for n, f in zip(numbers, names))
        return Piece({}, raw, number, "malformed_item", f"expected N. Instruction/Input/Output, found {found}")
    instruction, extra, output = values
    if NOINPUT.match(extra):
        extra = ""
    return Piece({"instruction": instruction, "input": extra, "output": output}, raw, number)
