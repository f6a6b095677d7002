"""Which record of a duplicate group is kept: the first, the longest, or the best source."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from pipeline.ops.base import Params
from pipeline.record import Record, Rejected

Keep = Literal["first", "longest", "source_priority"]


class KeepParams(Params):
    """Keep policy shared by the dedup ops (ties go to the earliest record)."""

    keep: Keep = Field("first", description="record kept of a group: first, longest, source_priority")
    priority: list[str] = Field(default_factory=list, description="meta.source values, best first")

    @model_validator(mode="after")
    def _check_priority(self) -> "KeepParams":
        if self.keep == "source_priority" and not self.priority:
            raise ValueError("keep: source_priority needs a `priority` list of sources")
        return self


def rank_key(rec: Record, p: KeepParams) -> int:
    """Lower is better: 0 (first), minus the characters (longest), the source's rank."""
    if p.keep == "longest":
        return -sum(len(m["content"]) for m in rec.messages)
    if p.keep == "source_priority":
        return p.priority.index(rec.meta.get("source")) if rec.meta.get("source") in p.priority \
            else len(p.priority)
    return 0


def representatives(labels: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """For each record, the index of its group's kept record: best key, then lowest index."""
    n = len(labels)
    order = np.lexsort((np.arange(n), keys, labels))
    first = np.concatenate(([True], labels[order][1:] != labels[order][:-1]))
    best = np.empty(n, dtype=np.int64)
    best[labels[order[first]]] = order[first]
    return best[labels]


def duplicate(rec: Record, kept_id: str, reason: str, detail: str, **extra) -> Rejected:
    """A dropped duplicate naming the kept record, at the reject line's top level and in its meta."""
    rec.meta["duplicate_of"] = kept_id
    return Rejected(reason, detail, record=rec, extra={"duplicate_of": kept_id, **extra})
