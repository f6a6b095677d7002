"""`filter`: heuristic rules, each switchable; a record failing one is rejected with its reason.

Word counts use whitespace-separated words; for text without spaces (Chinese, Japanese)
each CJK character counts as a word. Response rules look at the assistant turns together;
instruction rules at the user turns together. Open records (no answer yet) pass the
response rules unless `require_complete` is set.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator

from pydantic import Field

from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.record import Record, Rejected

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def count_words(text: str) -> int:
    cjk = len(_CJK.findall(text))
    return len(_CJK.sub(" ", text).split()) + cjk


class FilterParams(Params):
    require_complete: bool = Field(False, description="reject open records (no assistant answer)")
    empty_output: bool = Field(True, description="reject empty or whitespace-only answers")
    empty_instruction: bool = Field(True, description="reject empty or whitespace-only user turns")
    min_words: int | None = Field(None, ge=0, description="fewest words in the response")
    max_words: int | None = Field(None, ge=1, description="most words in the response")
    instruction_min_words: int | None = Field(None, ge=0)
    instruction_max_words: int | None = Field(None, ge=1)
    max_turns: int | None = Field(None, ge=1, description="most user turns")


Rule = Callable[[Record, FilterParams], "tuple[str, str] | None"]


def _complete(rec: Record, p: FilterParams):
    if p.require_complete and not rec.complete:
        return "incomplete", "no assistant answer"


def _empty_output(rec: Record, p: FilterParams):
    if p.empty_output and any(not t.strip() for t in rec.turns("assistant")):
        return "empty_output", "an assistant turn is empty"


def _empty_instruction(rec: Record, p: FilterParams):
    if p.empty_instruction and any(not t.strip() for t in rec.turns("user")):
        return "empty_instruction", "a user turn is empty"


def _bounds(reason: str, words: int, low: int | None, high: int | None):
    if low is not None and words < low:
        return f"{reason}_too_short", f"{words} words < {low}"
    if high is not None and words > high:
        return f"{reason}_too_long", f"{words} words > {high}"


def _response_length(rec: Record, p: FilterParams):
    if (p.min_words is None and p.max_words is None) or not rec.complete:
        return None
    words = sum(count_words(t) for t in rec.turns("assistant"))
    return _bounds("response", words, p.min_words, p.max_words)


def _instruction_length(rec: Record, p: FilterParams):
    if p.instruction_min_words is None and p.instruction_max_words is None:
        return None
    words = sum(count_words(t) for t in rec.turns("user"))
    return _bounds("instruction", words, p.instruction_min_words, p.instruction_max_words)


def _turns(rec: Record, p: FilterParams):
    if p.max_turns is not None and len(rec.turns("user")) > p.max_turns:
        return "too_many_turns", f"{len(rec.turns('user'))} user turns > {p.max_turns}"


RULES: list[Rule] = [_complete, _empty_instruction, _empty_output, _instruction_length,
                     _response_length, _turns]


def check(rec: Record, p: FilterParams) -> tuple[str, str] | None:
    """The first rule the record fails, as (reason, detail), or None."""
    for rule in RULES:
        verdict = rule(rec, p)
        if verdict:
            return verdict
    return None


def run(ctx: StageContext, inputs: list[StageInput], p: FilterParams) -> Iterator[Item]:
    for inp in inputs:
        for rec in inp:
            verdict = check(rec, p)
            yield rec if verdict is None else Rejected(verdict[0], verdict[1], record=rec)


SPEC = OpSpec(
    name="filter", fn=run, params=FilterParams, version=1, min_inputs=1,
    doc="Heuristic filters (length bounds, empty output, ...); rejects with the rule's reason.",
)
