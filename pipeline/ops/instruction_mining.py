"""`instruction_mining`: Instruction Mining's quality indicators per record and its predicted loss.

Reads complete records; writes `meta.scores.instruction_mining` = the indicators computed (token
lengths, MTLD, kNN-k distance, reward, perplexity, UniEval naturalness / coherence /
understandability as P(yes) from the stage's LLM) and `loss`, the log evaluation loss the linear
rule predicts (lower is better; `select` with `score: instruction_mining` ranks by it). The rule is
the paper's unless `coefficients` are given or `fit` names labelled subsets to fit it on; the rule
used goes to `<stage>/rule.json`. Drops open records (`incomplete`) and records whose LLM
answers stayed unusable (`mining_<code>`, `llm_error`): it fails closed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterator

from pydantic import Field, field_validator

from pipeline.dedup.text import TextField, plain_text
from pipeline.embed import EmbedParams, embedder_for, model_folder
from pipeline.errors import ConfigError
from pipeline.llm.types import AsyncAsk
from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.ops.dedup_exact import all_records
from pipeline.record import Record, Rejected
from pipeline.scoring import mining
from pipeline.scoring.ask import Outcome, ScorerParams, ask_parsed, in_order, reask_limit, rejection, with_scores
from pipeline.scoring.layout import exchange


class MiningParams(ScorerParams, EmbedParams):
    indicators: list[str] | None = Field(None, description="indicators to compute (default: the rule's, plus "
                                                           "len_in, len_out, mtld, knn, and reward/ppl with a model)")
    coefficients: dict[str, float] | None = Field(None, description="the rule: intercept and indicator -> weight "
                                                                    "(default: the paper's)")
    fit: str | None = Field(None, description="JSONL of fine-tuned subsets {indicators, loss} to fit the rule on")
    fit_indicators: list[str] = Field(["reward", "understandability", "naturalness", "coherence"],
                                      description="indicators the fitted rule uses")
    knn_k: int = Field(6, ge=1, description="neighbours of the kNN indicator")
    field: TextField = Field("conversation", description="text embedded for the kNN indicator")
    reward_model: str | None = Field(None, description="local reward-model folder (sequence classification)")
    ppl_model: str | None = Field(None, description="local causal-LM folder for perplexity")
    device: str = Field("cpu", description="torch device of the local models")
    logprobs: bool = Field(True, description="read P(yes) from logprobs (false: the written Yes/No)")

    @field_validator("indicators", "fit_indicators")
    @classmethod
    def _known(cls, v):
        bad = [x for x in v or () if x not in mining.INDICATORS]
        if bad:
            raise ValueError(f"unknown indicators {bad} (known: {', '.join(mining.INDICATORS)})")
        return v


def the_rule(ctx: StageContext, p: MiningParams) -> tuple[dict[str, float], dict]:
    """The rule to apply and how it was obtained (written to rule.json)."""
    if p.fit:
        rows = [json.loads(x) for x in Path(p.fit).read_text(encoding="utf-8").splitlines() if x.strip()]
        try:
            rule, r2 = mining.fit_rule(rows, list(p.fit_indicators))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{p.fit}: cannot fit the rule: {e}") from None
        about = {"source": "fit", "subsets": len(rows), "r2": round(r2, 4)}
    else:
        rule = dict(p.coefficients or mining.PAPER_RULE)
        about = {"source": "coefficients" if p.coefficients else "paper (Cao et al. 2023, final version)"}
    (ctx.stage_dir / "rule.json").write_text(json.dumps({"rule": rule, **about}, indent=2) + "\n")
    return rule, about


def wanted(p: MiningParams, rule: dict[str, float]) -> list[str]:
    needed = [n for n in rule if n != "intercept"]
    unknown = [n for n in needed if n not in mining.INDICATORS]
    if unknown:
        raise ConfigError(f"instruction_mining: the rule names unknown indicators {unknown}")
    chosen = list(p.indicators) if p.indicators is not None else \
        ["len_in", "len_out", "mtld", "knn"] + (["reward"] if p.reward_model else []) + \
        (["ppl"] if p.ppl_model else [])
    out = list(dict.fromkeys(chosen + needed))
    if "reward" in out and not p.reward_model:
        raise ConfigError("instruction_mining: the reward indicator needs `reward_model` (a local reward-model "
                          "folder), or give `coefficients` without `reward`")
    if "ppl" in out and not p.ppl_model:
        raise ConfigError("instruction_mining: the ppl indicator needs `ppl_model` (a local causal-LM folder)")
    return out


def local_values(rec: Record, names: list[str], models: dict) -> dict[str, float]:
    context, instruction, response = exchange(rec)
    prompt = f"{context}\n\n{instruction}" if context else instruction
    values: dict[str, float] = {}
    if "len_in" in names:
        values["len_in"] = len(mining.words(prompt))
    if "len_out" in names:
        values["len_out"] = len(mining.words(response))
    if "mtld" in names:
        values["mtld"] = round(mining.mtld(response), 4)
    if "reward" in names:
        values["reward"] = round(models["reward"].score(prompt, response), 6)
    if "ppl" in names:
        from pipeline.scoring.mining_local import perplexity
        values["ppl"] = round(perplexity(models["ppl"], rec), 6)
    return values


def load_models(ctx: StageContext, p: MiningParams, names: list[str]) -> dict:
    models = {}
    if "reward" in names:
        from pipeline.scoring.mining_local import RewardModel
        models["reward"] = RewardModel(model_folder(_resolve(ctx, p.reward_model)), p.device)
    if "ppl" in names:
        from pipeline.ops.ifd import scorer_for
        models["ppl"] = scorer_for(ctx, p.ppl_model, p.device)
    return models


def _resolve(ctx: StageContext, spec: str) -> str:
    if spec.startswith("package:") or Path(spec).is_absolute() or not ctx.recipe_dir:
        return spec
    return str(ctx.recipe_dir / spec)


def knn_values(ctx: StageContext, inputs: list[StageInput], p: MiningParams) -> list[float]:
    texts = [plain_text(rec, p.field) for rec in all_records(inputs) if rec.complete]
    if not texts:
        return []
    return [round(float(x), 6) for x in mining.knn_distance(embedder_for(p, ctx.recipe_dir).embed(texts), p.knn_k)]


async def unieval(ask: AsyncAsk, rec: Record, dims: list[str], reasks: int, p: MiningParams):
    """{dimension: P(yes)}, or the Outcome of the first dimension that failed."""
    context, instruction, response = exchange(rec)
    history = f"{context}\n\n{instruction}" if context else instruction
    params = {"temperature": 0.0, "max_tokens": 4, **({"logprobs": True, "top_logprobs": 5} if p.logprobs else {})}
    out, raw = {}, []
    for dim in dims:
        got = await ask_parsed(ask, mining.unieval_messages(dim, response, history),
                               lambda r: mining.p_yes(r.raw, r.text), "mining_reask", reasks, **params)
        raw += got.raw
        if not got.ok:
            return got
        out[dim] = round(got.value, 6)
    return out, max(len(raw) - len(dims), 0)


def run(ctx: StageContext, inputs: list[StageInput], p: MiningParams) -> Iterator[Item]:
    rule, _ = the_rule(ctx, p)
    names = wanted(p, rule)
    dims = [d for d in mining.UNIEVAL if d in names]
    knn = iter(knn_values(ctx, inputs, p)) if "knn" in names else None
    models = load_models(ctx, p, names)
    reasks = reask_limit(ctx, p.reasks)

    def workflows():
        for rec in all_records(inputs):
            near = next(knn) if knn is not None and rec.complete else None

            async def one(ask: AsyncAsk, rec: Record = rec, near=near):
                if not rec.complete:
                    return rec, None, None
                judged = await unieval(ask, rec, dims, reasks, p) if dims else ({}, 0)
                return rec, near, judged
            yield one

    for rec, near, judged in in_order(ctx, workflows()):
        if judged is None:
            yield Rejected("incomplete", "no response to measure", record=rec)
        elif isinstance(judged, Outcome):
            yield rejection(rec, judged, "mining")
        else:
            values, reasked = judged
            ctx.count("reasked", reasked)
            values.update(local_values(rec, names, models))
            if near is not None:
                values["knn"] = near
            loss = mining.predict(rule, values)
            values["loss"] = round(loss, 6) if math.isfinite(loss) else None
            yield with_scores(rec, {"instruction_mining": dict(sorted(values.items()))})


SPEC = OpSpec(
    name="instruction_mining", fn=run, params=MiningParams, version=1, min_inputs=1, uses_llm=True,
    prompts=mining.MINING_PROMPTS, path_params=("fit",),
    doc="Instruction Mining: per-record indicators (lengths, MTLD, kNN, reward, perplexity, UniEval by an LLM) and "
        "the loss its linear rule predicts (paper's coefficients, or fitted on your labelled subsets).",
)
