"""`mix`: concatenate inputs into one mixture, with per-input caps or weights (FLAN/TULU style).

Without caps or weights every record passes, inputs in order. `caps` take at most N records
of an input; `weights` with `total` share `total` between inputs in proportion (limited by
what an input has). Selection is a seeded uniform sample kept in input order; records left
out are rejected as `not_sampled`, so the ledger still balances. `shuffle` shuffles the output.
"""

from __future__ import annotations

from typing import Iterator

from pydantic import Field, model_validator

from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.record import Rejected


class MixParams(Params):
    caps: dict[str, int] = Field(default_factory=dict, description="input id -> at most N records")
    weights: dict[str, float] = Field(default_factory=dict, description="input id -> share of `total`")
    total: int | None = Field(None, ge=1, description="mixture size when weights are given")
    seed: int = 0
    shuffle: bool = False

    @model_validator(mode="after")
    def _check(self) -> "MixParams":
        if self.weights and self.total is None:
            raise ValueError("weights need `total` (the size of the mixture)")
        if any(w < 0 for w in self.weights.values()) or any(c < 0 for c in self.caps.values()):
            raise ValueError("caps and weights must not be negative")
        return self


def quotas(inputs: list[StageInput], p: MixParams) -> dict[str, int]:
    """How many records to take from each input."""
    names = [i.stage_id for i in inputs]
    unknown = [k for k in (*p.caps, *p.weights) if k not in names]
    if unknown:
        from pipeline.errors import ConfigError

        raise ConfigError(f"mix: caps/weights name {unknown}, which are not inputs ({names})")
    want = {i.stage_id: i.count for i in inputs}
    if p.weights:
        total_w = sum(p.weights.get(n, 0.0) for n in names)
        if total_w <= 0:
            from pipeline.errors import ConfigError

            raise ConfigError("mix: weights add up to 0")
        want = {n: round(p.total * p.weights.get(n, 0.0) / total_w) for n in names}
    return {i.stage_id: min(i.count, want[i.stage_id], p.caps.get(i.stage_id, i.count)) for i in inputs}


def run(ctx: StageContext, inputs: list[StageInput], p: MixParams) -> Iterator[Item]:
    take = quotas(inputs, p)
    rng = ctx.rng(p.seed)
    chosen_all = []
    for inp in inputs:
        k = take[inp.stage_id]
        ctx.count(f"taken_{inp.stage_id}", k)
        chosen = set(rng.sample(range(inp.count), k)) if k < inp.count else None
        for idx, rec in enumerate(inp):
            if chosen is None or idx in chosen:
                if p.shuffle:
                    chosen_all.append(rec)
                else:
                    yield rec
            else:
                yield Rejected("not_sampled", f"input {inp.stage_id}: {k} of {inp.count} taken", record=rec)
    if p.shuffle:
        rng.shuffle(chosen_all)
        yield from chosen_all


SPEC = OpSpec(
    name="mix", fn=run, params=MixParams, version=1, min_inputs=1,
    doc="Concatenate inputs with optional per-input caps or weights (seeded sampling).",
)
