"""`select`: LIMA/Deita-style selection of a diverse, high-scoring subset to a budget.

Records are ranked by `score`, a safe expression over `meta.scores` (`quality * complexity`,
`sum(complexity * quality)` for per-turn Deita scores; see `pipeline.expr`), ties in input
order. Walking down the ranking, a record is taken unless the budget is full
(`over_budget`), its source's quota is full (`over_quota`, quotas by `meta.source`), or it
is too similar to a record already taken (`too_similar`, Deita's greedy diversity): cosine
similarity of embeddings above `tau` (default 0.9) when an `embedder` is set, else ROUGE-L
F1 of the normalised tokens above `tau` (default 0.7, Self-Instruct's novelty bar). Records
the expression cannot score are rejected (`no_score`: fail closed) or ranked last. Kept
records come out in input order with `meta.select = {score, rank}`.
"""

from __future__ import annotations

from typing import Iterator, Literal

import numpy as np
from pydantic import Field, field_validator
from rapidfuzz.distance import LCSseq
from rapidfuzz.process import cdist

from pipeline.dedup.scratch import scratch
from pipeline.dedup.text import TextField, plain_text, tokens
from pipeline.embed import EmbedParams
from pipeline.expr import ExprError, ScoreExpr
from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.ops.dedup_exact import all_records
from pipeline.ops.dedup_semantic import KeptSet, embed_all
from pipeline.record import Rejected

BLOCK = 256
# named scores: Instruction Mining's predicted log loss, lower is better
ALIASES = {"instruction_mining": "-instruction_mining.loss"}


class SelectParams(EmbedParams):
    budget: int | None = Field(None, ge=1, description="records to select (none: every record that passes)")
    score: str | None = Field(None, description="expression over meta.scores, e.g. quality * complexity; "
                                                "instruction_mining: lowest predicted loss first")
    missing_score: Literal["reject", "last"] = Field("reject", description="records the score cannot rate")
    diversity: bool = Field(True, description="skip records too similar to one already selected")
    tau: float | None = Field(None, gt=0.0, le=1.0, description="similarity bar (0.9 cosine, 0.7 ROUGE-L)")
    embedder: str | None = Field(None, description="hashing, a model folder, package:NAME; none: ROUGE-L")
    field: TextField = Field("conversation", description="text compared for diversity")
    quotas: dict[str, int] = Field(default_factory=dict, description="meta.source -> most records selected")

    @field_validator("score")
    @classmethod
    def _valid_expression(cls, v: str | None) -> str | None:
        if v is not None:
            ScoreExpr(v)
        return v


class RougeL:
    """ROUGE-L F1 between a candidate and every selected text (token sequences as code points)."""

    def __init__(self, texts: list[str]):
        vocab: dict[str, int] = {}
        self.seqs = ["".join(chr(0xE000 + vocab.setdefault(t, len(vocab)) % 0xFF000) for t in tokens(x))
                     for x in texts]
        self.chosen: list[int] = []

    def prepare(self, ids: np.ndarray) -> None:
        pass

    def most_similar(self, j: int, i: int) -> tuple[float, int]:
        q = self.seqs[i]
        if not self.chosen or not q:
            return 0.0, -1
        lcs = cdist([q], [self.seqs[c] for c in self.chosen], scorer=LCSseq.similarity,
                     workers=-1 if len(self.chosen) > 1000 else 1)[0]
        lens = np.array([len(self.seqs[c]) for c in self.chosen])
        f1 = 2 * lcs / (len(q) + lens)
        k = int(f1.argmax())
        return float(f1[k]), self.chosen[k]

    def add(self, j: int, i: int) -> None:
        self.chosen.append(i)


class Cosine:
    """Cosine similarity of embeddings, a block of candidates against the selected at a time."""

    def __init__(self, vecs: np.ndarray):
        self.vecs, self.kept = vecs, KeptSet(vecs.shape[1])

    def prepare(self, ids: np.ndarray) -> None:
        self.block = np.asarray(self.vecs[ids])
        self.best, self.arg = self.kept.best(self.block)
        self.base, self.inner, self.fresh = len(self.kept.idx), self.block @ self.block.T, []

    def most_similar(self, j: int, i: int) -> tuple[float, int]:
        sim, who = (float(self.best[j]), self.kept.idx[self.arg[j]]) if self.base else (-1.0, -1)
        if self.fresh:
            row = self.inner[j, [k for k, _ in self.fresh]]
            k = int(row.argmax())
            if row[k] > sim:
                sim, who = float(row[k]), self.fresh[k][1]
        return sim, who

    def add(self, j: int, i: int) -> None:
        self.fresh.append((j, i))
        self.kept.add(i, self.block[j])


def scores_and_sources(inputs: list[StageInput], p: SelectParams) -> tuple[np.ndarray, list, list, list]:
    """Score (NaN when unscorable), why not, source and id of every record, in input order."""
    expr = ScoreExpr(ALIASES.get(p.score, p.score)) if p.score else None
    scores, why, sources, ids = [], [], [], []
    for rec in all_records(inputs):
        value, err = 0.0, ""
        if expr is not None:
            try:
                value = expr.value(rec.meta.get("scores") or {})
            except ExprError as e:
                value, err = float("nan"), str(e)
        scores.append(value)
        why.append(err)
        sources.append(rec.meta.get("source"))
        ids.append(rec.id)
    return np.array(scores, dtype=float), why, sources, ids


def ranking(scores: np.ndarray, p: SelectParams) -> np.ndarray:
    """Indices best first: score descending, then input order; unscorable last (or left out)."""
    n = len(scores)
    missing = np.isnan(scores)
    order = np.lexsort((np.arange(n), -np.where(missing, -np.inf, scores)))
    return order if p.missing_score == "last" else order[~missing[order]]


def choose(order: np.ndarray, sources: list, sim, p: SelectParams) -> dict[int, tuple]:
    """Walk the ranking; return {index: ("selected", rank) or (reason, detail, extra)}."""
    tau = p.tau if p.tau is not None else (0.9 if p.embedder else 0.7)
    taken: dict = {}
    out: dict[int, tuple] = {}
    rank = 0
    for start in range(0, len(order), BLOCK):
        ids = order[start:start + BLOCK]
        if sim is not None and (p.budget is None or rank < p.budget):
            sim.prepare(ids)
        for j, i in enumerate(ids.tolist()):
            src = sources[i]
            if p.budget is not None and rank >= p.budget:
                out[i] = ("over_budget", f"budget of {p.budget} reached", {})
            elif src in p.quotas and taken.get(src, 0) >= p.quotas[src]:
                out[i] = ("over_quota", f"quota of {p.quotas[src]} for source {src!r} reached", {})
            else:
                value, who = sim.most_similar(j, i) if sim is not None else (0.0, -1)
                if who >= 0 and value > tau:
                    out[i] = ("too_similar", f"similarity {value:.3f} > {tau}", {"similar_to": who,
                                                                                   "similarity": round(value, 4)})
                    continue
                if sim is not None:
                    sim.add(j, i)
                taken[src] = taken.get(src, 0) + 1
                out[i] = ("selected", rank)
                rank += 1
    return out


def run(ctx: StageContext, inputs: list[StageInput], p: SelectParams) -> Iterator[Item]:
    scores, why, sources, ids = scores_and_sources(inputs, p)
    order = ranking(scores, p)
    with scratch(ctx.stage_dir, "select") as tmp:
        sim = None
        if p.diversity and p.embedder:
            sim = Cosine(embed_all(inputs, p, tmp / "embeddings.f32", ctx.recipe_dir)[0])
        elif p.diversity:
            sim = RougeL([plain_text(rec, p.field) for rec in all_records(inputs)])
        verdicts = choose(order, sources, sim, p)
        del sim
    for i, rec in enumerate(all_records(inputs)):
        v = verdicts.get(i)
        if v is None:
            yield Rejected("no_score", why[i], record=rec)
        elif v[0] == "selected":
            rec.meta["select"] = {"score": None if np.isnan(scores[i]) else float(scores[i]), "rank": v[1]}
            yield rec
        else:
            extra = dict(v[2])
            if "similar_to" in extra:
                extra["similar_to"] = ids[extra["similar_to"]]
                detail = f"{v[1]} with {extra['similar_to']}"
            else:
                detail = v[1]
            yield Rejected(v[0], detail, record=rec, extra=extra)


SPEC = OpSpec(
    name="select", fn=run, params=SelectParams, version=1, min_inputs=1,
    doc="Select to a budget by a score expression over meta.scores, with greedy diversity and source quotas.",
)
