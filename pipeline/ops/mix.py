"""`mix`: concatenate inputs into one mixture, with per-input caps or weights (FLAN/TULU style).

Without caps or weights every record passes, inputs in order. `caps` take at most N records
of an input; `weights` with `total` share `total` between inputs in proportion (limited by
what an input has). Selection is a seeded uniform sample kept in input order; records left
out are rejected as `not_sampled`, so the ledger still balances. `shuffle` shuffles the output.
`repeat` (Data-Constrained Scaling, Muennighoff et al. 2023) repeats a small, high-quality input's
chosen records for up to k epochs; copies past the first carry `meta.epoch` and count as generated.
The paper found up to about 4 epochs nearly as good as fresh data and returns vanishing after that,
so k above `max_epochs` (4) is refused unless `max_epochs` is raised on purpose.
"""

from __future__ import annotations

from typing import Iterator

from pydantic import Field, model_validator

from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.record import Record, Rejected


class MixParams(Params):
    caps: dict[str, int] = Field(default_factory=dict, description="input id -> at most N records")
    weights: dict[str, float] = Field(default_factory=dict, description="input id -> share of `total`")
    total: int | None = Field(None, ge=1, description="mixture size when weights are given")
    repeat: dict[str, int] = Field(default_factory=dict,
                                   description="input id -> epochs k: its records repeated k times")
    max_epochs: int = Field(4, ge=1, description="largest `repeat` allowed (returns drop after ~4 epochs)")
    seed: int = 0
    shuffle: bool = False

    @model_validator(mode="after")
    def _check(self) -> "MixParams":
        if self.weights and self.total is None:
            raise ValueError("weights need `total` (the size of the mixture)")
        too_many = {k: v for k, v in self.repeat.items() if v > self.max_epochs}
        if too_many:
            raise ValueError(f"repeat {too_many} is above max_epochs {self.max_epochs}: Data-Constrained "
                             "Scaling found repeated data worth much less after about 4 epochs; "
                             "raise max_epochs to repeat more on purpose")
        if any(v < 1 for v in self.repeat.values()):
            raise ValueError("repeat must be at least 1 epoch")
        if any(w < 0 for w in self.weights.values()) or any(c < 0 for c in self.caps.values()):
            raise ValueError("caps and weights must not be negative")
        return self


def quotas(inputs: list[StageInput], p: MixParams) -> dict[str, int]:
    """How many records to take from each input."""
    names = [i.stage_id for i in inputs]
    unknown = [k for k in (*p.caps, *p.weights, *p.repeat) if k not in names]
    if unknown:
        from pipeline.errors import ConfigError

        raise ConfigError(f"mix: caps/weights/repeat name {unknown}, which are not inputs ({names})")
    want = {i.stage_id: i.count for i in inputs}
    if p.weights:
        total_w = sum(p.weights.get(n, 0.0) for n in names)
        if total_w <= 0:
            from pipeline.errors import ConfigError

            raise ConfigError("mix: weights add up to 0")
        want = {n: round(p.total * p.weights.get(n, 0.0) / total_w) for n in names}
        # a repeated input's share is filled by copies: it needs only share/k distinct records
        want = {n: -(-w // p.repeat.get(n, 1)) for n, w in want.items()}
    return {i.stage_id: min(i.count, want[i.stage_id], p.caps.get(i.stage_id, i.count)) for i in inputs}


def copies(inp: StageInput, chosen: list[Record], p: MixParams) -> Iterator[Record]:
    """Epochs 2..k of a repeated input: the chosen records again, with their epoch in id and meta.

    With weights, the copies stop when the input's share of `total` is full (the last epoch partial)."""
    k = p.repeat.get(inp.stage_id, 1)
    room = len(chosen) * (k - 1)
    if p.weights:
        share = round(p.total * p.weights.get(inp.stage_id, 0.0) / sum(p.weights.values()))
        room = max(0, min(room, share - len(chosen)))
    for n in range(room):
        rec, epoch = chosen[n % len(chosen)], n // len(chosen) + 2
        yield Record(f"{rec.id}-e{epoch}", rec.messages, {**rec.meta, "epoch": epoch})


def run(ctx: StageContext, inputs: list[StageInput], p: MixParams) -> Iterator[Item]:
    take = quotas(inputs, p)
    rng = ctx.rng(p.seed)
    chosen_all = []
    for inp in inputs:
        k = take[inp.stage_id]
        ctx.count(f"taken_{inp.stage_id}", k)
        chosen = set(rng.sample(range(inp.count), k)) if k < inp.count else None
        kept: list[Record] = []
        for idx, rec in enumerate(inp):
            if chosen is None or idx in chosen:
                kept.append(rec)
                if p.shuffle:
                    chosen_all.append(rec)
                else:
                    yield rec
            else:
                yield Rejected("not_sampled", f"input {inp.stage_id}: {k} of {inp.count} taken", record=rec)
        for rec in copies(inp, kept, p) if kept else ():
            ctx.count("generated")
            ctx.count(f"repeated_{inp.stage_id}")
            if p.shuffle:
                chosen_all.append(rec)
            else:
                yield rec
    if p.shuffle:
        rng.shuffle(chosen_all)
        yield from chosen_all


SPEC = OpSpec(
    name="mix", fn=run, params=MixParams, version=1, min_inputs=1,
    doc="Concatenate inputs with optional per-input caps or weights (seeded sampling); `repeat` repeats "
        "a small high-quality input for up to k epochs (Data-Constrained Scaling: at most ~4).",
)
