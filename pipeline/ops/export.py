"""`export`: write the complete, valid records of its inputs as a dataset folder.

Keeps complete examples (ending with an assistant turn, roles in order, no empty turn) and
rejects the rest (`incomplete`, `roles_not_alternating@turnN`, ...; for `dpo`, records without a
rejected answer: `no_rejected_answer`). Files go to
`<stage>/dataset/` (or `path`): the data in `format`, `dataset_info.json` and `README.md`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Literal

from pydantic import Field

from pipeline.export.formats import FORMATS, rejected_answer
from pipeline.export.write import write_export
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.record import Record, Rejected, check_messages
from pipeline.report.figures import llm_totals
from pipeline.rundir import RunDir

Format = Literal["messages", "alpaca", "sharegpt", "hf", "parquet", "dpo"]
assert set(Format.__args__) == set(FORMATS)


class ExportParams(Params):
    format: Format = "messages"
    validation: float | None = Field(None, ge=0, description="validation split: a fraction (<1) or a count")
    seed: int = 0
    name: str | None = Field(None, description="dataset name (default: the recipe name)")
    card: bool = True
    path: str | None = Field(None, description="output folder, relative to the recipe's folder "
                                                 "(default: <stage>/dataset)")


def complete_or_reason(rec: Record, fmt: str = "messages") -> Rejected | None:
    problems = check_messages(rec.messages, complete=True)
    if problems:
        return Rejected(problems[0].code, "; ".join(map(str, problems)), record=rec)
    if fmt == "dpo" and rejected_answer(rec) is None:
        return Rejected("no_rejected_answer", "format dpo needs meta.rejected.content (from pairs)",
                        record=rec)
    return None


def export_dir(ctx: StageContext, p: ExportParams) -> Path:
    """`path` resolves against the recipe's folder, like every path in a recipe."""
    if not p.path:
        return ctx.stage_dir / "dataset"
    path = Path(os.path.expanduser(p.path))
    return path if path.is_absolute() or ctx.recipe_dir is None else ctx.recipe_dir / path


def run(ctx: StageContext, inputs: list[StageInput], p: ExportParams) -> Iterator[Item]:
    def kept() -> Iterator[Record]:
        for inp in inputs:
            for rec in inp:
                if complete_or_reason(rec, p.format) is None:
                    yield rec

    for inp in inputs:
        for rec in inp:
            yield complete_or_reason(rec, p.format) or rec
    out_dir = export_dir(ctx, p)
    run_info = {"recipe": ctx.extra.get("recipe"), "stages": ctx.upstream,
                "llm": llm_totals(RunDir(ctx.run_dir).stats(st["id"]) for st in ctx.upstream),
                "report": os.path.relpath(ctx.run_dir / "report.html", out_dir)}
    summary = write_export(kept, out_dir, p.format, name=p.name or ctx.extra.get("recipe", "dataset"),
                           validation=p.validation, seed=p.seed, card=p.card, run_info=run_info)
    for split, n in summary.splits.items():
        ctx.count(f"exported_{split}", n)


SPEC = OpSpec(
    name="export", fn=run, params=ExportParams, version=2, min_inputs=1,
    doc="Export complete records as messages/alpaca/sharegpt/dpo JSONL, HF save_to_disk or parquet, "
        "with a dataset card and a LLaMA-Factory dataset_info.json.",
)
