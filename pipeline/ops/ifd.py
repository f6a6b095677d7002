"""`ifd`: Cherry-LLM instruction-following difficulty with a local causal LM (extra `ifd`).

IFD(Q, A) = L(A | Q) / L(A): the mean cross-entropy of the answer tokens after the prompt
(Alpaca template by default, with its Input section when the record has an input) over their
mean cross-entropy after only `### Response:`. A high
IFD means the instruction helps the model little: a hard, informative example. Records whose
IFD exceeds 1 (the instruction does not help) are dropped (`ifd_above_1`), as are those whose
prompt fills `max_length` (`ifd_too_long`); of the rest, the `fraction` with the highest IFD is
kept (`ifd_not_top` for the others), as Cherry LLM's `sample_rate` is taken of the survivors. The IFD and both losses go to
`meta.scores`. For multi-turn records the earlier turns are part of the instruction and the
last answer is scored. The model is a local folder or `package:NAME`; never downloaded.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Literal

import numpy as np
from pydantic import Field

from pipeline.embed import model_folder
from pipeline.errors import ConfigError
from pipeline.ops.base import Item, OpSpec, Params, ShardSteps, StageContext, StageInput
from pipeline.ops.dedup_exact import all_records
from pipeline.record import Record, Rejected

ALPACA = ("Below is an instruction that describes a task. Write a response that appropriately completes "
          "the request.\n\n### Instruction:\n{instruction}\n\n### Response:")
ALPACA_INPUT = ("Below is an instruction that describes a task, paired with an input that provides further "
                "context. Write a response that appropriately completes the request.\n\n### Instruction:\n"
                "{instruction}\n\n### Input:\n{input}\n\n### Response:")
TEMPLATES = {"alpaca": ALPACA, "plain": "{instruction}\n\n### Response:"}
DIRECT = "### Response:"


class IfdParams(Params):
    model: str = Field(description="local causal-LM folder, or package:NAME")
    template: Literal["alpaca", "plain"] = Field("alpaca", description="prompt around the instruction")
    max_length: int = Field(512, ge=8, description="most tokens of prompt + answer")
    fraction: float | None = Field(None, gt=0.0, le=1.0, description="keep this share of the records with IFD <= 1, "
                                                                     "highest IFD first (Cherry LLM's sample_rate)")
    device: str = Field("cpu", description="torch device")


class Scorer:
    """Mean answer-token loss under a local causal LM."""

    def __init__(self, folder: Path, device: str):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise ConfigError("ifd needs the `ifd` extra: pip install 'instructpipe[ifd]' (torch, transformers)") \
                from None
        self.torch, self.device = torch, device
        self.tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True).to(device).eval()

    def ids(self, text: str, special: bool) -> list[int]:
        return self.tok(text, add_special_tokens=special)["input_ids"]

    def prompt_stats(self, text: str, max_length: int) -> tuple[float, "np.ndarray"]:
        """(perplexity of the whole text, mean of its last hidden layer): Cherry LLM's "pre" pass."""
        ids = self.torch.tensor([self.ids(text, True)[:max_length]], device=self.device)
        with self.torch.no_grad():
            out = self.model(input_ids=ids, labels=ids, output_hidden_states=True)
        return math.exp(float(out.loss)), out.hidden_states[-1][0].mean(dim=0).float().cpu().numpy()

    def loss(self, prefix: list[int], answer: list[int]) -> float:
        ids = self.torch.tensor([prefix + answer], device=self.device)
        labels = self.torch.tensor([[-100] * len(prefix) + answer], device=self.device)
        with self.torch.no_grad():
            return float(self.model(input_ids=ids, labels=labels).loss)


def split(rec: Record) -> tuple[str, str, str]:
    """(instruction with any earlier turns, its input, last answer). The input is `meta.input`
    when the last user turn ends with it (Alpaca-format sources and the generation ops keep it)."""
    body = [m for m in rec.messages if m["role"] != "system"]
    earlier = "\n\n".join(m["content"] for m in body[:-1])
    extra = rec.meta.get("input")
    if isinstance(extra, str) and extra.strip() and earlier.endswith(extra.strip()):
        head = earlier[:-len(extra.strip())].rstrip()
        if head:
            return head, extra.strip(), rec.response
    return earlier, "", rec.response


def prompt_text(template: str, instruction: str, extra: str) -> str:
    """Cherry LLM's prompt: Alpaca's template with an Input section when the record has an input."""
    if template == "alpaca" and extra:
        return ALPACA_INPUT.format(instruction=instruction, input=extra)
    text = f"{instruction}\n\n{extra}" if extra else instruction
    return TEMPLATES[template].format(instruction=text)


def ifd(scorer: Scorer, rec: Record, p: IfdParams) -> tuple[str, float, float, float]:
    """(verdict, ifd, conditional loss, direct loss); verdict '' when scored."""
    if not rec.complete:
        return "ifd_no_answer", math.nan, math.nan, math.nan
    instruction, extra, answer = split(rec)
    prompt = scorer.ids(prompt_text(p.template, instruction, extra), True)
    if len(prompt) >= p.max_length:
        return "ifd_too_long", math.nan, math.nan, math.nan
    ans = scorer.ids(answer, False)[:p.max_length - len(prompt)]
    if not ans:
        return "ifd_no_answer", math.nan, math.nan, math.nan
    cond, direct = scorer.loss(prompt, ans), scorer.loss(scorer.ids(DIRECT, True), ans)
    return "", cond / direct if direct > 0 else math.inf, cond, direct


def scorer_for(ctx: StageContext, model: str, device: str) -> Scorer:
    spec = model
    if not spec.startswith("package:") and ctx.recipe_dir and not Path(spec).is_absolute():
        spec = str(ctx.recipe_dir / spec)
    return load_scorer(model_folder(spec), device)


@lru_cache(maxsize=1)
def load_scorer(folder: Path, device: str) -> Scorer:
    """One model per process: a worker loads it once for all its shards."""
    return Scorer(folder, device)


def choose(results: list[tuple[str, float, float, float]], p: IfdParams) -> np.ndarray:
    """Which records are kept: IFD <= 1 and, with `fraction`, among the highest IFDs."""
    values = np.array([r[1] if not r[0] and r[1] <= 1 else -np.inf for r in results])
    keep = values > -np.inf
    if p.fraction is not None:     # Cherry LLM's sample_rate: a share of the records that pass IFD <= 1
        k = int(keep.sum() * p.fraction)
        top = np.argsort(-values, kind="stable")[:k]
        chosen = np.zeros(len(results), dtype=bool)
        chosen[top] = True
        keep &= chosen
    return keep


def run(ctx: StageContext, inputs: list[StageInput], p: IfdParams) -> Iterator[Item]:
    scorer = scorer_for(ctx, p.model, p.device)
    results = [ifd(scorer, rec, p) for rec in all_records(inputs)]
    yield from emit(all_records(inputs), results, choose(results, p), p)


def emit(records: Iterator[Record], results, keep, p: IfdParams) -> Iterator[Item]:
    for i, rec in enumerate(records):
        verdict, value, cond, direct = results[i]
        if not verdict:
            rec.meta["scores"] = {**(rec.meta.get("scores") or {}), "ifd": round(value, 6),
                                  "ifd_loss_conditioned": round(cond, 6), "ifd_loss_direct": round(direct, 6)}
        if keep[i]:
            yield rec
        elif verdict:
            yield Rejected(verdict, f"prompt of {p.max_length}+ tokens" if verdict == "ifd_too_long"
                           else "no answer to score", record=rec)
        elif value > 1:
            yield Rejected("ifd_above_1", f"IFD {value:.4f} > 1: the instruction does not help", record=rec)
        else:
            yield Rejected("ifd_not_top", f"IFD {value:.4f} not in the top {p.fraction:.0%}", record=rec)


# -- over shards (`run --workers N`): each worker scores its shards with its own copy of the model
# (map), the driver chooses the kept share over all of them (reduce), each shard writes its verdicts
SCORES, KEEP = "ifd_scores.npz", "ifd_keep.npy"


def map_shard(ctx: StageContext, inp: StageInput, p: IfdParams, folder: Path) -> None:
    scorer = scorer_for(ctx, p.model, p.device)
    results = [ifd(scorer, rec, p) for rec in inp]
    np.savez(folder / SCORES, verdicts=np.array([r[0] for r in results], dtype=str).reshape(-1),
             values=np.array([r[1:] for r in results], dtype=np.float64).reshape(-1, 3))


def shard_results(folder: Path) -> list[tuple[str, float, float, float]]:
    with np.load(folder / SCORES) as f:
        return [(str(v), *map(float, row)) for v, row in zip(f["verdicts"], f["values"])]


def reduce_shards(ctx: StageContext, shards: Path, n: int, p: IfdParams) -> None:
    results = [r for i in range(n) for r in shard_results(shards / f"{i:05d}")]
    np.save(shards / KEEP, choose(results, p))


def apply_shard(ctx: StageContext, inp: StageInput, p: IfdParams, offset: int) -> Iterator[Item]:
    keep = np.load(ctx.stage_dir.parent / KEEP, mmap_mode="r")
    yield from emit(iter(inp), shard_results(ctx.stage_dir), keep[offset:offset + inp.count], p)


SPEC = OpSpec(
    name="ifd", fn=run, params=IfdParams, version=2, min_inputs=1,
    shard_steps=ShardSteps(map_shard, reduce_shards, apply_shard, context=True),
    doc="Cherry-LLM instruction-following difficulty with a local causal LM; drop IFD > 1, keep the top fraction.",
)
