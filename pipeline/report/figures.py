"""Figures over records, shared by the run report and the dataset card: the token estimate, length
and score distributions, the mix (source, stage, language, op, generated or not) and key figures.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from pipeline.tokens import active as active_tokenizer, count as count_tokens

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
TOKEN_NOTE = ("Token counts are estimates, not a tokenizer's: one token per 4 characters of "
              "non-CJK text (the usual rule of thumb for English under GPT-style BPE vocabularies) "
              "plus one token per CJK character.")
GENERATED_NOTE = ("A record counts as generated when its meta names a model (`meta.model`) or its "
                  "stage of origin runs an LLM op; every other record is ingested source data.")
STAT_KEYS = ("requests", "cached", "tokens_in", "tokens_out", "cost_usd")


def token_note() -> str:
    """TOKEN_NOTE, or which tokenizer counted (the recipe's `llm.tokenizer`)."""
    tok = active_tokenizer()
    return TOKEN_NOTE if tok is None else f"Token counts are by the recipe's {tok.name} (llm.tokenizer)."


def estimate_tokens(text: str) -> int:
    """Rough token count: ceil(non-CJK characters / 4) + CJK characters (see TOKEN_NOTE)."""
    if text.isascii():
        return (len(text) + 3) // 4
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk + 3) // 4


@dataclass
class Dist:
    """A distribution kept as value -> count (floats rounded to 4 places), so memory stays bounded."""

    counts: Counter = field(default_factory=Counter)

    def add(self, value: float) -> None:
        self.counts[value if isinstance(value, int) else round(value, 4)] += 1

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def quantile(self, q: float) -> float:
        """The smallest value with at least a fraction `q` of the data at or below it."""
        target, seen = q * self.n, 0
        for value in sorted(self.counts):
            seen += self.counts[value]
            if seen >= target:
                return value
        return max(self.counts) if self.counts else 0

    def summary(self) -> dict:
        n = self.n
        if not n:
            return {"n": 0}
        mean = sum(v * c for v, c in self.counts.items()) / n
        return {"n": n, "min": min(self.counts), "p50": self.quantile(0.5), "mean": mean,
                "p90": self.quantile(0.9), "max": max(self.counts)}


def numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def flat_scores(scores: Any, prefix: str = "") -> Iterable[tuple[str, float]]:
    """Numeric leaves of `meta.scores` as (dotted name, value); texts (explanations) are skipped."""
    if not isinstance(scores, dict):
        return
    for key, value in scores.items():
        name = f"{prefix}{key}"
        if numeric(value):
            yield name, value
        elif isinstance(value, dict):
            yield from flat_scores(value, name + ".")


def top_similarity(value: Any) -> float | None:
    """The highest score of `meta.most_similar`: a number, {text: score}, [[text, score]] or {score}."""
    if numeric(value):
        return value
    if isinstance(value, dict):
        if numeric(value.get("score")):
            return value["score"]
        found = [v for v in value.values() if numeric(v)]
    elif isinstance(value, list):
        found = [p[-1] for p in value if isinstance(p, (list, tuple)) and p and numeric(p[-1])]
    else:
        return None
    return max(found) if found else None


@dataclass
class RecordStats:
    """Everything the report and the card say about a set of records, accumulated one at a time.

    `stage_ops` maps stage id -> op name; `llm_ops` names the ops that call an LLM.
    """

    stage_ops: dict[str, str] = field(default_factory=dict)
    llm_ops: frozenset[str] = frozenset()
    records: int = 0
    sources: Counter = field(default_factory=Counter)
    stages: Counter = field(default_factory=Counter)
    langs: Counter = field(default_factory=Counter)
    ops: Counter = field(default_factory=Counter)
    origin: Counter = field(default_factory=Counter)
    turns: Dist = field(default_factory=Dist)
    instruction_tokens: Dist = field(default_factory=Dist)
    response_tokens: Dist = field(default_factory=Dist)
    scores: dict[str, Dist] = field(default_factory=dict)
    similarity: dict[str, Dist] = field(default_factory=dict)

    def is_generated(self, meta: dict) -> bool:
        return bool(meta.get("model")) or self.stage_ops.get(str(meta.get("stage"))) in self.llm_ops

    def observe(self, messages: list[dict], meta: dict) -> bool:
        """Count one record; return whether it is generated."""
        self.records += 1
        stage = str(meta.get("stage", "unknown"))
        self.sources[str(meta.get("source", "unknown"))] += 1
        self.stages[stage] += 1
        self.langs[str(meta.get("lang") or "unknown")] += 1
        generated = self.is_generated(meta)
        kind = "generated" if generated else "ingested"
        self.origin[kind] += 1
        self.ops[(self.stage_ops.get(stage, "unknown"), kind)] += 1
        users = [m["content"] for m in messages if m["role"] == "user"]
        answers = [m["content"] for m in messages if m["role"] == "assistant"]
        self.turns.add(len(users))
        if users:
            self.instruction_tokens.add(count_tokens(users[0], estimate_tokens))
        if answers and messages[-1]["role"] == "assistant":
            self.response_tokens.add(count_tokens(answers[-1], estimate_tokens))
        for name, value in flat_scores(meta.get("scores")):
            self.scores.setdefault(name, Dist()).add(value)
        self._similarity(meta)
        return generated

    def _similarity(self, meta: dict) -> None:
        if numeric(meta.get("avg_similarity")):
            self.similarity.setdefault("avg_similarity", Dist()).add(meta["avg_similarity"])
        top = top_similarity(meta.get("most_similar"))
        if top is not None:
            self.similarity.setdefault("most_similar", Dist()).add(top)


def llm_op_names() -> frozenset[str]:
    """Names of the ops that call an LLM (their records count as generated)."""
    from pipeline.ops import all_ops

    return frozenset(name for name, spec in all_ops().items() if spec.uses_llm)


def stats_for_stages(stages: Iterable[dict]) -> RecordStats:
    """An empty RecordStats that knows the op of every stage in `stages` (dicts with id and op)."""
    return RecordStats({str(st["id"]): str(st["op"]) for st in stages}, llm_op_names())


def llm_totals(stats: Iterable[dict]) -> dict:
    """Requests, cache hits, tokens and cost summed over stages' `stats.json` counters."""
    out = {key: 0 for key in STAT_KEYS}
    for st in stats:
        for key in STAT_KEYS:
            value = st.get(key, 0)
            out[key] += value if numeric(value) else 0
    out["cost_usd"] = round(float(out["cost_usd"]), 6)
    return out


def _share(counter: Counter, total: int, top: int = 3) -> str:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
    shown = [f"{k} {100 * v / total:.1f}%" for k, v in items[:top]]
    rest = len(items) - top
    return ", ".join(shown) + (f" (+{rest} more)" if rest > 0 else "")


def _spread(d: Dist, digits: int = 1) -> str:
    s = d.summary()
    if not s["n"]:
        return "-"
    return f"median {s['p50']:g}, mean {s['mean']:.{digits}f}, p90 {s['p90']:g}, max {s['max']:g}"


def key_figures(rs: RecordStats, llm: dict | None = None) -> list[tuple[str, str]]:
    """The key-figures table (label, value), identical in the report and the card."""
    n = rs.records
    rows = [("records", f"{n:,}")]
    if not n:
        return rows
    gen = rs.origin.get("generated", 0)
    rows += [("generated in this run", f"{gen:,} ({100 * gen / n:.1f}%)"),
             ("sources", f"{len(rs.sources)}: {_share(rs.sources, n)}"),
             ("languages", _share(rs.langs, n)),
             ("user turns per record", _spread(rs.turns)),
             ("multi-turn records", f"{n - rs.turns.counts.get(1, 0) - rs.turns.counts.get(0, 0):,}"),
             ("instruction tokens (est.)", _spread(rs.instruction_tokens)),
             ("response tokens (est.)", _spread(rs.response_tokens))]
    for name in sorted(rs.scores):
        s = rs.scores[name].summary()
        rows.append((f"score {name}", f"median {s['p50']:g}, mean {s['mean']:.2f} ({s['n']:,} scored)"))
    for name in sorted(rs.similarity):
        rows.append((f"novelty {name}", _spread(rs.similarity[name], 3)))
    if llm is not None:
        rows += [("LLM requests (cache hits)", f"{llm['requests']:,} ({llm['cached']:,})"),
                 ("LLM tokens in / out", f"{llm['tokens_in']:,} / {llm['tokens_out']:,}"),
                 ("LLM cost (USD)", f"{llm['cost_usd']:.4f}")]
    return rows
