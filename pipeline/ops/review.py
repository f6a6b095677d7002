"""`review`: apply the decisions people made on the review page to the records of a stage.

The op reads the kept and the rejected records of its input stage (`from: <stage id>`) and the
decisions file `<run>/reviews/<stage id>.jsonl`. Per record, the newest verdict of any reviewer
(each reviewer's latest decision counts; a flag alone is no verdict):

- accept: the record passes;
- reject: it goes to the rejected file as `reviewer_rejected`, the reason as detail;
- edit: it passes with the new messages, a new id, `parents` = the old id and `meta.edited_by`;
- a record the input stage had rejected and a reviewer accepted (or edited) comes back, with
  `meta.restored` holding the original reason (counted as `generated` in the ledger).

`unreviewed` decides the kept records nobody decided on: `keep` (pass), `drop` (rejected as
`unreviewed`) or `hold`: the stage stops unfinished until every record is reviewed, so nothing
downstream runs (LIMA-style curation). The decisions file is part of the stage fingerprint: new
decisions re-run this stage and what follows it, nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Literal

from pydantic import ConfigDict, Field

from pipeline.errors import ConfigError, UserError
from pipeline.jsonl import read_jsonl
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.record import Record, Rejected
from pipeline.review.decisions import DecisionLog, Verdict, decisions_path


class ReviewPending(UserError):
    """`unreviewed: hold` and records still wait for a reviewer: the stage stays partial."""

    keeps_partial = True


class ReviewParams(Params):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    from_: str | None = Field(None, alias="from", description="the reviewed stage (default: the input)")
    unreviewed: Literal["keep", "drop", "hold"] = Field(
        "keep", description="records nobody decided on: keep, drop, or hold the stage until all are reviewed")


def decisions_file(p: ReviewParams, inputs: tuple[str, ...]) -> tuple[str, ...]:
    """The run-folder file whose content enters the fingerprint."""
    source = p.from_ or (inputs[0] if inputs else None)
    return (f"reviews/{source}.jsonl",) if source else ()


def _edited(rec: Record, v: Verdict, stage_id: str) -> Record:
    new = Record.new(v.messages, dict(rec.meta))
    if new.id == rec.id:
        return rec
    return rec.derive(v.messages, edited_by=v.edited_by, stage=stage_id)


def _kept(ctx: StageContext, inp: StageInput, log: DecisionLog, mode: str) -> Iterator[Item]:
    for rec in inp:
        v = log.verdict(rec.id)
        if v.action == "reject":
            ctx.count("review_rejected")
            yield Rejected("reviewer_rejected", v.reason or "", record=rec, extra={"reviewer": v.reviewer})
        elif v.action in ("accept", "edit"):
            ctx.count("review_edited" if v.messages is not None else "review_accepted")
            yield _edited(rec, v, ctx.stage_id) if v.messages is not None else rec
        elif mode == "keep":
            ctx.count("review_unreviewed")
            yield rec
        elif mode == "drop":
            yield Rejected("unreviewed", "no reviewer decided on this record", record=rec)
        else:
            ctx.count("review_held")


def _restored(ctx: StageContext, rejected: Path, log: DecisionLog) -> Iterator[Record]:
    """Records the input stage rejected and a reviewer accepted, back with `meta.restored`."""
    if not rejected.exists():
        return
    for _, obj in read_jsonl(rejected, trusted=True):
        rec = obj.get("record") if isinstance(obj.get("record"), dict) else None
        rid = rec["id"] if rec else None
        if rid is None:  # a raw row: the review page names it by its position
            continue
        v = log.verdict(rid)
        if v.action not in ("accept", "edit"):
            continue
        meta = dict(rec.get("meta") or {})
        meta["restored"] = {"reason": obj.get("reason"), "reviewer": v.reviewer}
        old = Record(rid, rec.get("messages") or [], meta)
        ctx.count("generated")
        ctx.count("review_restored")
        yield _edited(old, v, ctx.stage_id) if v.messages is not None else old


def run(ctx: StageContext, inputs: list[StageInput], p: ReviewParams) -> Iterator[Item]:
    inp = inputs[0]
    if p.from_ and p.from_ != inp.stage_id:
        raise ConfigError(f"{ctx.stage_id}: from: {p.from_!r} is not this stage's input ({inp.stage_id!r})")
    log = DecisionLog(decisions_path(ctx.run_dir, p.from_ or inp.stage_id)).refresh()
    yield from _kept(ctx, inp, log, p.unreviewed)
    yield from _restored(ctx, inp.path.parent / "rejected.jsonl", log)
    held = ctx.counters.get("review_held", 0)
    if held:
        raise ReviewPending(f"stage {ctx.stage_id}: {held} records of {inp.stage_id} await review "
                            f"(unreviewed: hold); review them with `instructpipe review {ctx.run_dir} "
                            f"--stage {inp.stage_id}`, then run again")


SPEC = OpSpec(
    name="review", fn=run, params=ReviewParams, version=1, min_inputs=1, max_inputs=1,
    run_files=decisions_file,
    doc="apply the review page's decisions on stage `from`: accepted pass, rejected go to rejected as "
        "reviewer_rejected, edits pass as new records (parents, meta.edited_by), accepted rejections come "
        "back (meta.restored); `unreviewed`: keep, drop or hold",
)
