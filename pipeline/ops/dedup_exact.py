"""`dedup_exact`: drop records whose normalised text equals an earlier (or better) one.

Normalisation: Unicode NFKC, case-folded, whitespace collapsed. The text compared is the
whole conversation (default), the first instruction, all user turns, or the response.
Keep policy `first` (input order), `longest` (most characters) or `source_priority`
(order of `priority`, then first), across all inputs taken in order. Dropped records name
the kept one (`duplicate_of`, also in the dropped record's meta).
"""

from __future__ import annotations

import hashlib
from typing import Iterator

from pipeline.dedup.keep import KeepParams, duplicate, rank_key
from pipeline.dedup.text import TextField, key_text, normalise
from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.record import Record


class DedupExactParams(KeepParams):
    field: TextField = "conversation"
    normalize: bool = True


def digest(rec: Record, p: DedupExactParams) -> bytes:
    text = key_text(rec, p.field)
    if p.normalize:
        text = normalise(text)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).digest()


def all_records(inputs: list[StageInput]) -> Iterator[Record]:
    for inp in inputs:
        yield from inp


def run(ctx: StageContext, inputs: list[StageInput], p: DedupExactParams) -> Iterator[Item]:
    if p.keep == "first":
        seen: dict[bytes, str] = {}
        for rec in all_records(inputs):
            d = digest(rec, p)
            if d in seen:
                yield duplicate(rec, seen[d], "duplicate", f"same {p.field} as {seen[d]}")
            else:
                seen[d] = rec.id
                yield rec
        return
    # Two passes: the best record of each group may come after the others.
    best: dict[bytes, tuple[tuple[int, int], str]] = {}
    for idx, rec in enumerate(all_records(inputs)):
        d, s = digest(rec, p), (rank_key(rec, p), idx)
        if d not in best or s < best[d][0]:
            best[d] = (s, rec.id)
    for idx, rec in enumerate(all_records(inputs)):
        s, winner = best[digest(rec, p)]
        if s[1] == idx:
            yield rec
        else:
            yield duplicate(rec, winner, "duplicate", f"same {p.field} as {winner} (keep {p.keep})")


SPEC = OpSpec(
    name="dedup_exact", fn=run, params=DedupExactParams, version=2, min_inputs=1,
    doc="Remove exact duplicates (normalised text hash) across all inputs; keep first/longest/by source.",
)
