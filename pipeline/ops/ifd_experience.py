"""`ifd_experience`: Cherry LLM's "brief experience" sample, the few records a model is first
trained on before it scores IFD (extra `ifd`, with scikit-learn for k-means).

Each record's prompt (the Alpaca template, as `ifd`) is run through a local causal LM: its
perplexity and the mean of its last hidden layer. The embeddings are clustered with k-means
(`clusters`, 100; random_state `seed`); in each cluster the records whose prompt perplexity lies
between the `low` and `high` percentiles (25th and 75th) are taken, `per_cluster` (10) of them,
evenly spaced, as Cherry LLM's data_by_cluster does. The rest are rejected `not_sampled`.
Kept records carry `meta.cluster` and `meta.scores.prompt_ppl`.
"""

from __future__ import annotations

from typing import Iterator, Literal

import numpy as np
from pydantic import Field

from pipeline.errors import ConfigError
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.ops.dedup_exact import all_records
from pipeline.ops.ifd import prompt_text, scorer_for, split
from pipeline.record import Rejected


class ExperienceParams(Params):
    model: str = Field(description="local causal-LM folder, or package:NAME (the base model to train)")
    template: Literal["alpaca", "plain"] = Field("alpaca", description="prompt around the instruction")
    max_length: int = Field(512, ge=8, description="most prompt tokens read")
    clusters: int = Field(100, ge=1, description="k-means clusters (Cherry LLM: 100)")
    per_cluster: int = Field(10, ge=1, description="records taken per cluster (Cherry LLM: 10)")
    low: float = Field(25, ge=0, le=100, description="lower perplexity percentile within a cluster")
    high: float = Field(75, ge=0, le=100, description="upper perplexity percentile within a cluster")
    seed: int = Field(0, description="k-means random_state")
    device: str = Field("cpu", description="torch device")


def middle_sample(labels: np.ndarray, ppl: np.ndarray, n: int, low: float, high: float) -> dict[int, np.ndarray]:
    """Per cluster, up to `n` evenly spaced records whose perplexity is within the percentiles
    (all of a cluster smaller than `n`; all of a middle band smaller than `n`)."""
    picked = {}
    for c in np.unique(labels):
        members = np.where(labels == c)[0]
        if len(members) < n:
            picked[int(c)] = members
            continue
        values = ppl[members]
        lo, hi = np.percentile(values, low), np.percentile(values, high)
        middle = members[(values >= lo) & (values <= hi)]
        picked[int(c)] = middle if len(middle) < n else middle[::len(middle) // n][:n]
    return picked


def run(ctx: StageContext, inputs: list[StageInput], p: ExperienceParams) -> Iterator[Item]:
    if p.low > p.high:
        raise ConfigError(f"stage {ctx.stage_id}: low ({p.low}) must not exceed high ({p.high})")
    try:
        from sklearn.cluster import KMeans
    except ImportError:
        raise ConfigError("ifd_experience needs scikit-learn: pip install 'instructpipe[ifd]'") from None
    scorer = scorer_for(ctx, p.model, p.device)
    stats = []
    for rec in all_records(inputs):
        instruction, extra, _ = split(rec) if rec.complete else (rec.instruction, "", "")
        stats.append(scorer.prompt_stats(prompt_text(p.template, instruction, extra), p.max_length))
    if not stats:
        return
    ppl = np.array([s[0] for s in stats])
    vectors = np.stack([s[1] for s in stats])
    k = min(p.clusters, len(stats))
    labels = KMeans(n_clusters=k, random_state=p.seed, n_init=10).fit(vectors).labels_
    chosen = {int(i): c for c, members in middle_sample(labels, ppl, p.per_cluster, p.low, p.high).items()
              for i in members}
    for i, rec in enumerate(all_records(inputs)):
        rec.meta["scores"] = {**(rec.meta.get("scores") or {}), "prompt_ppl": round(float(ppl[i]), 6)}
        rec.meta["cluster"] = int(labels[i])
        if i in chosen:
            yield rec
        else:
            yield Rejected("not_sampled", f"cluster {int(labels[i])}: not among its {p.per_cluster} middle-"
                           f"perplexity records", record=rec)


SPEC = OpSpec(
    name="ifd_experience", fn=run, params=ExperienceParams, version=1, min_inputs=1,
    doc="Cherry LLM's brief-experience sample: k-means over LM embeddings, middle-perplexity records per cluster.",
)
