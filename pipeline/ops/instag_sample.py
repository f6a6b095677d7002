"""`instag_sample`: InsTag's complexity-first diverse sampling (Algorithm 1) over `meta.tags`.

Records are ranked by their number of tags (most first; ties in input order). In each pass the
pass's tag set starts empty and a record is taken iff it brings at least one tag the pass has
not seen; taken records leave the pool. Passes repeat until `budget` records are taken (InsTag:
6K of 306K) or the pool is empty. Kept records come out in input order with
`meta.instag_pass`; the rest are rejected `over_budget`, or `no_tags` (nothing to bring).
Run `tag` first.
"""

from __future__ import annotations

from typing import Iterator

from pydantic import Field

from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.ops.dedup_exact import all_records
from pipeline.record import Rejected


class InsTagSampleParams(Params):
    budget: int = Field(ge=1, description="records to take (InsTag: 6,000)")


def passes(tag_sets: list[set[str]], budget: int) -> dict[int, int]:
    """index -> pass number (1-based) of every record taken, by InsTag's Algorithm 1."""
    pool = sorted((i for i, tags in enumerate(tag_sets) if tags), key=lambda i: -len(tag_sets[i]))
    taken: dict[int, int] = {}
    number = 0
    while pool and len(taken) < budget:
        number += 1
        seen: set[str] = set()
        rest = []
        for i in pool:
            if len(taken) < budget and tag_sets[i] - seen:
                taken[i] = number
                seen |= tag_sets[i]
            else:
                rest.append(i)
        pool = rest
    return taken


def run(ctx: StageContext, inputs: list[StageInput], p: InsTagSampleParams) -> Iterator[Item]:
    tag_sets = [set(rec.meta.get("tags") or ()) for rec in all_records(inputs)]
    taken = passes(tag_sets, p.budget)
    ctx.count("passes", max(taken.values(), default=0))
    for i, rec in enumerate(all_records(inputs)):
        if i in taken:
            rec.meta["instag_pass"] = taken[i]
            yield rec
        elif not tag_sets[i]:
            yield Rejected("no_tags", "no meta.tags (run `tag` first)", record=rec)
        else:
            yield Rejected("over_budget", f"not among the {p.budget} taken", record=rec)


SPEC = OpSpec(
    name="instag_sample", fn=run, params=InsTagSampleParams, version=1, min_inputs=1,
    doc="InsTag complexity-first diverse sampling: most tags first, each pass takes records bringing new tags.",
)
