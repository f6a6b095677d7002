"""Strict parsers of model output shared by LLM ops: JSON (with a schema), scores and numbered lists.

The only repair is stripping one Markdown code fence around JSON; anything else that is not
valid raises `OutputError(reason, detail)`, which an op turns into a re-ask and finally a
rejection keeping the raw text. An incomplete reply (finish_reason other than stop) loses its
last list item (the Self-Instruct/Alpaca rule) and never yields a complete JSON answer.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pipeline.jsonl import decode_line

M = TypeVar("M", bound=BaseModel)
_FENCE_RE = re.compile(r"^```[A-Za-z]*[ \t]*\n(.*?)\n?```$", re.S)
_ITEM_RE = re.compile(r"^\s*(\d+)\s*[.)]\s+", re.M)


class OutputError(Exception):
    """Model output that cannot be used: `reason` is a short code, `detail` says why."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def strip_fence(text: str) -> str:
    """The body of a single ```/```json fence around the whole text, else the text itself."""
    stripped = text.strip()
    m = _FENCE_RE.match(stripped)
    return m.group(1).strip() if m else stripped


def parse_json(text: str | None, *, complete: bool = True) -> Any:
    """Strict JSON (no NaN, no duplicate keys, nothing before or after) after a fence strip."""
    if not complete:
        raise OutputError("incomplete", "the reply was cut off (finish_reason other than stop)")
    if text is None or not text.strip():
        raise OutputError("empty", "no content")
    try:
        return decode_line(strip_fence(text))
    except ValueError as e:
        raise OutputError("bad_json", str(e)) from None


def parse_model(text: str | None, model: type[M], *, complete: bool = True) -> M:
    """JSON validated (strictly: no type coercion) against a pydantic model."""
    value = parse_json(text, complete=complete)
    try:
        return model.model_validate(value, strict=True)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "value"
        raise OutputError("bad_schema", f"{where}: {first['msg']}") from None


def parse_score(text: str | None, low: int, high: int, *, key: str = "score", complete: bool = True) -> int:
    """An integer score in [low, high] from `{"<key>": n}`; fails closed on anything else."""
    value = parse_json(text, complete=complete)
    score = value.get(key) if isinstance(value, dict) else None
    if isinstance(score, bool) or not isinstance(score, int):
        raise OutputError("bad_schema", f"{key}: expected an integer, got {score!r}")
    if not low <= score <= high:
        raise OutputError("out_of_range", f"{key}: {score} not in [{low}, {high}]")
    return score


def numbered_items(text: str, *, complete: bool = True, exclude: tuple[str, ...] = ()
                   ) -> tuple[list[str], list[OutputError]]:
    """Items of a `1. ... 2. ...` list, and a problem for each item dropped.

    Dropped: the last item of an incomplete reply (`truncated`), items out of sequence
    (`numbering`), repeats (`duplicate_item`), empty items and items equal to one of `exclude`
    (`echoed_seed`). Text before the first number is commentary and is ignored.
    """
    marks = list(_ITEM_RE.finditer(text))
    items, problems, seen = [], [], {norm(x) for x in exclude}
    kept_norms: set[str] = set()
    previous = 0
    for i, m in enumerate(marks):
        body = text[m.end(): marks[i + 1].start() if i + 1 < len(marks) else len(text)].strip()
        number, expected, previous = int(m.group(1)), previous + 1, int(m.group(1))
        if not complete and i == len(marks) - 1:
            problems.append(OutputError("truncated", f"item {number}: the reply was cut off"))
        elif number != expected:
            problems.append(OutputError("numbering", f"item {number}: expected number {expected}"))
        elif not body:
            problems.append(OutputError("empty_item", f"item {number}: empty"))
        elif norm(body) in seen:
            problems.append(OutputError("echoed_seed", f"item {number}: repeats an example"))
        elif norm(body) in kept_norms:
            problems.append(OutputError("duplicate_item", f"item {number}: repeats an earlier item"))
        else:
            kept_norms.add(norm(body))
            items.append(body)
    return items, problems


def norm(text: str) -> str:
    return " ".join(text.lower().split())
