"""Unnatural Instructions parsing: the fourth example's `Instruction:` / `Input:` / `Constraints:`
fields, and the reformulations that must keep an `{INPUT}` placeholder."""

from __future__ import annotations

import re

from pipeline.gen.pieces import Piece

_FIELDS = re.compile(r"^\s*(?:Example\s*\d+\s*:?\s*\n)?\s*(?:Instruction:)?(?P<instruction>.*?)\n\s*Input:"
                     r"(?P<input>.*?)\n\s*Constraints:(?P<constraints>.*)$", re.DOTALL)
_NEXT_EXAMPLE = re.compile(r"\n\s*Example\s*\d+\b.*$", re.DOTALL)
PLACEHOLDER = "{INPUT}"


def parse_example(text: str, *, truncated: bool = False) -> Piece:
    """The generated example, or a piece naming what is wrong (`truncated`, `malformed_example`)."""
    text = _NEXT_EXAMPLE.sub("", text.replace("\r\n", "\n")).strip()
    if truncated:
        return Piece({}, text, None, "truncated", "the reply hit the length limit")
    m = _FIELDS.match(text)
    if not m:
        return Piece({}, text, None, "malformed_example", "expected Instruction:, Input: and Constraints: fields")
    fields = {k: " ".join(v.split()) if k != "input" else v.strip() for k, v in m.groupdict().items()}
    if not fields["instruction"]:
        return Piece(fields, text, None, "malformed_example", "the instruction is empty")
    return Piece(fields, text)


def clean_reformulation(text: str) -> str:
    """A reformulation as the model wrote it, without surrounding quotes."""
    text = text.strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def has_placeholder(text: str) -> bool:
    return PLACEHOLDER in text
