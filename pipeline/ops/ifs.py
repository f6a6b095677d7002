"""`ifs`: the instruction-following score (AlShikh et al. 2023) of a stage's responses, and a filter on it.

Reads complete records and classifies each last response as an `answer` to its prompt or a
`continuation` of it, by an LLM over an OpenAI-compatible endpoint (`classifier: llm`) or a
local sequence-classification model folder. Writes `meta.scores.ifs` (1 answer, 0 continuation;
the local model's answer probability as `ifs_p`) and the stage's IFS, the answer share, as the
`ifs` counter in stats.json. With `drop_continuations`, continuations are rejected
(`continuation`); open records are `incomplete`; failed LLM calls fail closed (`ifs_<code>`).
"""

from __future__ import annotations

from typing import Iterator

from pydantic import Field

from pipeline.embed import model_folder
from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.record import Record, Rejected
from pipeline.scoring.ask import ScorerParams, with_scores
from pipeline.scoring.ifs import IFS_PROMPTS, LocalClassifier, ifs_messages, parse_label
from pipeline.scoring.labels import label_records


class IfsParams(ScorerParams):
    classifier: str = Field("llm", description="llm (the stage's endpoint), or a local classifier folder")
    answer_label: str = Field("LABEL_1", description="the local classifier's answer-like label")
    drop_continuations: bool = Field(True, description="reject responses classified as continuations")
    device: str = Field("cpu", description="torch device of a local classifier")


def labelled(rec: Record, label: str, p: IfsParams, **extra) -> Item:
    rec = with_scores(rec, {"ifs": 1 if label == "answer" else 0, **extra})
    if label == "continuation" and p.drop_continuations:
        return Rejected("continuation", "the response continues the prompt instead of answering", record=rec)
    return rec


def by_llm(ctx: StageContext, inputs: list[StageInput], p: IfsParams) -> Iterator[tuple[Record, Item, str]]:
    for rec, rejected, label, _ in label_records(ctx, inputs, ifs_messages, parse_label, "ifs_reask", "ifs",
                                                 p.reasks):
        yield rec, rejected or labelled(rec, label, p), label


def by_model(ctx: StageContext, inputs: list[StageInput], p: IfsParams) -> Iterator[tuple[Record, Item, str]]:
    clf = LocalClassifier(model_folder(p.classifier), p.answer_label, p.device)
    batch: list[Record] = []

    def flush():
        for rec, (label, prob) in zip(batch, clf.labels([r.response for r in batch])):
            yield rec, labelled(rec, label, p, ifs_p=round(prob, 6)), label
        batch.clear()

    for inp in inputs:
        for rec in inp:
            if not rec.complete:
                yield rec, Rejected("incomplete", "no response to classify", record=rec), ""
                continue
            batch.append(rec)
            if len(batch) >= 64:
                yield from flush()
    yield from flush()


def run(ctx: StageContext, inputs: list[StageInput], p: IfsParams) -> Iterator[Item]:
    source = by_llm if p.classifier == "llm" else by_model
    for _, item, label in source(ctx, inputs, p):
        if label:
            ctx.count(f"ifs_{label}")
        yield item
    share(ctx.counters)


def share(counters) -> None:
    """The answer share of the stage (recomputed from the summed counts when it ran as shards)."""
    counters["ifs_answer"] += 0          # both counts always in stats.json, even when zero
    counters["ifs_continuation"] += 0
    answered, total = counters["ifs_answer"], counters["ifs_answer"] + counters["ifs_continuation"]
    counters["ifs"] = round(answered / total, 4) if total else 0


def sharding(p: IfsParams) -> str:
    """Per record with the LLM; a local classifier pads its batches, which shards would regroup."""
    return "record" if p.classifier == "llm" else "global"


SPEC = OpSpec(
    name="ifs", fn=run, params=IfsParams, version=1, min_inputs=1, prompts=IFS_PROMPTS, uses_llm=True,
    sharding=sharding, merge_counters=share,
    doc="Instruction-following score: each response classified as an answer or a continuation (LLM or a local "
        "classifier); the answer share in stats.json as `ifs`; continuations dropped unless kept.",
)
