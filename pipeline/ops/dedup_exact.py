"""`dedup_exact`: drop records whose normalised text equals an earlier (or better) one.

Normalisation: Unicode NFKC, case-folded, whitespace collapsed. The text compared is the
whole conversation (default), the first instruction, all user turns, or the response.
Keep policy `first` (input order), `longest` (most characters) or `source_priority`
(order of `priority`, then first). Dropped records name the kept one (`duplicate_of`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Iterator, Literal

from pydantic import Field, model_validator

from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.record import Record, Rejected

_WS = re.compile(r"\s+")


class DedupExactParams(Params):
    field: Literal["conversation", "instruction", "user", "response"] = "conversation"
    keep: Literal["first", "longest", "source_priority"] = "first"
    priority: list[str] = Field(default_factory=list, description="meta.source values, best first")
    normalize: bool = True

    @model_validator(mode="after")
    def _check(self) -> "DedupExactParams":
        if self.keep == "source_priority" and not self.priority:
            raise ValueError("keep: source_priority needs a `priority` list of sources")
        return self


def normalise(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def key_text(rec: Record, field: str) -> str:
    if field == "instruction":
        return rec.instruction
    if field == "user":
        return "\x1e".join(rec.turns("user"))
    if field == "response":
        return "\x1e".join(rec.turns("assistant"))
    return "\x1e".join(f"{m['role']}\x1f{m['content']}" for m in rec.messages)


def digest(rec: Record, p: DedupExactParams) -> bytes:
    text = key_text(rec, p.field)
    if p.normalize:
        text = normalise(text)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).digest()


def _all(inputs: list[StageInput]) -> Iterator[Record]:
    for inp in inputs:
        yield from inp


def run(ctx: StageContext, inputs: list[StageInput], p: DedupExactParams) -> Iterator[Item]:
    if p.keep == "first":
        seen: dict[bytes, str] = {}
        for rec in _all(inputs):
            d = digest(rec, p)
            if d in seen:
                yield Rejected("duplicate", f"same {p.field} as {seen[d]}", record=rec,
                               extra={"duplicate_of": seen[d]})
            else:
                seen[d] = rec.id
                yield rec
        return
    rank = {src: i for i, src in enumerate(p.priority)}

    def score(rec: Record, idx: int) -> tuple:
        if p.keep == "longest":
            return (-sum(len(m["content"]) for m in rec.messages), idx)
        return (rank.get(rec.meta.get("source"), len(rank)), idx)

    best: dict[bytes, tuple[tuple, str]] = {}
    for idx, rec in enumerate(_all(inputs)):
        d, s = digest(rec, p), score(rec, idx)
        if d not in best or s < best[d][0]:
            best[d] = (s, rec.id)
    for idx, rec in enumerate(_all(inputs)):
        s, winner = best[digest(rec, p)]
        if s[-1] == idx:
            yield rec
        else:
            yield Rejected("duplicate", f"same {p.field} as {winner} (keep {p.keep})", record=rec,
                           extra={"duplicate_of": winner})


SPEC = OpSpec(
    name="dedup_exact", fn=run, params=DedupExactParams, version=1, min_inputs=1,
    doc="Remove exact duplicates (normalised text hash) across all inputs; keep first/longest/by source.",
)
