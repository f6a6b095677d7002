"""`pairs`: preference pairs for DPO from several responses per prompt, judged and ranked.

Reads complete records from one or more inputs (e.g. `respond` with `n` samples, or one
`respond` stage per model); records with the same conversation up to the last answer form a
group. Each distinct response gets a 0-5 judge score (the `judge` op's prompts); the best becomes
`chosen`, the worst `rejected`. One record per prompt comes out: the prompt plus the chosen
answer as `messages`, the rejected answer and both scores in `meta.chosen` / `meta.rejected`
(export it with `format: dpo`). The rejected response is consumed into the pair; other
responses are rejected with a reason (`not_chosen`, `duplicate_response`, `too_few_responses`,
`no_margin`, `chosen_below_threshold`, judge failures), so every input is accounted for.
Responses are guarded against injection as in `judge` (`injection`, `reply_code`): a response
that addresses the judge is rejected (`judge_injection`) before the others are ranked.
Groups are held in memory until judged.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Iterator

import numpy as np
import orjson
from pydantic import Field

from pipeline.jsonl import atomic_write_json, read_json_file

from pipeline.ops.base import Item, OpSpec, ShardSteps, StageContext, StageInput, lines_at
from pipeline.ops.judge import RatingParams, count_outcome, judge_record, score_key
from pipeline.record import Record, Rejected, content_id
from pipeline.scoring.ask import Outcome, in_order, reask_limit, rejection, with_scores
from pipeline.scoring.layout import JUDGE_PROMPTS


class PairsParams(RatingParams):
    dimension: str = Field("helpfulness", min_length=1,
                           description="what to rank by: accuracy, helpfulness, or your own text")
    min_margin: float = Field(1.0, ge=0, le=5, description="least score gap between chosen and rejected")
    min_chosen: float | None = Field(None, ge=0, le=5, description="least score of the chosen answer")


def group(inputs: list[StageInput]) -> Iterator[Item | list[Record]]:
    """Rejections found while grouping, then each group (same prompt, distinct answers) in
    order of first appearance."""
    groups: dict[str, list[Record]] = {}
    for inp in inputs:
        for rec in inp:
            if not rec.complete:
                yield incomplete(rec)
                continue
            members = groups.setdefault(content_id(rec.messages[:-1]), [])
            same = next((m for m in members if m.response.strip() == rec.response.strip()), None)
            if same is not None:
                yield same_answer(rec, same.id)
            else:
                members.append(rec)
    yield from groups.values()


def incomplete(rec: Record) -> Rejected:
    return Rejected("incomplete", "no assistant answer", record=rec)


def same_answer(rec: Record, other: str) -> Rejected:
    return Rejected("duplicate_response", f"same answer as {other}", record=rec, extra={"duplicate_of": other})


def side(rec: Record, score: float, why: str) -> dict:
    out = {"id": rec.id, "score": score, "explanation": why}
    if rec.meta.get("model"):
        out["model"] = rec.meta["model"]
    return out


def rank(ctx: StageContext, members: list[Record], outcomes: list[Outcome], p: PairsParams,
         key: str) -> Iterator[Item]:
    """The pair of one judged group, and the rejections of its other members."""
    scored = []
    for rec, out in zip(members, outcomes):
        if not out.ok:
            yield rejection(rec, out, "judge")
        else:
            score, why = out.value
            scored.append((with_scores(rec, {key: score, f"{key}_explanation": why}, flags=out.flags),
                           score, why))
    scored.sort(key=lambda t: -t[1])
    if len(scored) < 2:
        for rec, _, _ in scored:
            yield Rejected("too_few_responses", "fewer than 2 judged answers to this prompt", record=rec)
        return
    (best, top, top_why), (worst, low, low_why) = scored[0], scored[-1]
    problem = None
    if top - low < p.min_margin:
        problem = ("no_margin", f"best {top:g} - worst {low:g} < min_margin {p.min_margin:g}")
    elif p.min_chosen is not None and top < p.min_chosen:
        problem = ("chosen_below_threshold", f"best {top:g} < min_chosen {p.min_chosen:g}")
    if problem:
        for rec, _, _ in scored:
            yield Rejected(problem[0], problem[1], record=rec)
        return
    for rec, score, _ in scored[1:-1]:
        yield Rejected("not_chosen", f"{key} {score:g}, neither best nor worst", record=rec)
    meta = dict(best.meta)
    meta.update(stage=ctx.stage_id, parents=[best.id, worst.id], chosen=side(best, top, top_why),
                rejected={**side(worst, low, low_why), "content": worst.response})
    ctx.count("consumed")
    yield Record.new(best.messages, meta)


def run(ctx: StageContext, inputs: list[StageInput], p: PairsParams) -> Iterator[Item]:
    groups: list[list[Record]] = []
    for item in group(inputs):
        if isinstance(item, list):
            groups.append(item)
        else:
            yield item
    yield from judged(ctx, groups, p)


def judged(ctx: StageContext, groups: list[list[Record]], p: PairsParams) -> Iterator[Item]:
    """Each group's members judged (concurrently, across groups too), then ranked, in group order."""
    key, reasks = score_key(p.dimension, p.key), reask_limit(ctx, p.reasks)

    def workflows():
        for members in groups:
            async def judge_all(ask, members: list[Record] = members) -> list[Outcome]:
                if len(members) < 2:
                    return []
                return list(await asyncio.gather(*(judge_record(ask, rec, p, reasks)
                                                   for rec in members)))
            yield judge_all

    for members, outcomes in zip(groups, in_order(ctx, workflows())):
        if not outcomes:
            yield from (Rejected("too_few_responses", "only one distinct answer to this prompt",
                                 record=rec) for rec in members)
            continue
        for out in outcomes:
            count_outcome(ctx, out)
        yield from rank(ctx, members, outcomes, p, key)


# -- over shards (`run --workers N`, one input): each shard notes its records' prompt and answer keys
# (map); the driver groups them exactly as `group` does (reduce); each shard then judges and ranks
# the groups that first appear in it, reading their members wherever they are (apply). The grouping's
# rejections all come first, as in one process: the first shard writes them.
KEYS, TODO = "pairs_keys.npz", "pairs_todo.json"


def map_shard(ctx: StageContext, inp: StageInput, p: PairsParams, folder: Path) -> None:
    ids, prompts, answers, offsets = [], [], [], []
    for pos, obj in lines_at(inp.path, *inp.span):
        rec = Record(obj["id"], obj["messages"], obj.get("meta") or {})
        ids.append(rec.id)
        prompts.append(content_id(rec.messages[:-1]) if rec.complete else "")
        answers.append(hashlib.blake2b(rec.response.strip().encode("utf-8"), digest_size=16).digest())
        offsets.append(pos)
    np.savez(folder / KEYS, ids=np.array(ids, dtype=str), prompts=np.array(prompts, dtype=str),
             answers=np.array(answers, dtype="S16"), offsets=np.array(offsets, dtype=np.int64))


def reduce_shards(ctx: StageContext, shards: Path, n: int, p: PairsParams) -> None:
    maps = [dict(np.load(shards / f"{i:05d}" / KEYS)) for i in range(n)]
    ids = [str(x) for m in maps for x in m["ids"]]
    offsets = [int(x) for m in maps for x in m["offsets"]]
    shard_of = [i for i, m in enumerate(maps) for _ in m["ids"]]
    answers = [bytes(x) for m in maps for x in m["answers"]]
    grouping, groups = [], {}
    for idx, prompt in enumerate(str(x) for m in maps for x in m["prompts"]):
        if not prompt:
            grouping.append([offsets[idx], None])
            continue
        members = groups.setdefault(prompt, [])
        same = next((m for m in members if answers[m] == answers[idx]), None)
        if same is not None:
            grouping.append([offsets[idx], ids[same]])
        else:
            members.append(idx)
    todo: list[dict] = [{"grouping": grouping if i == 0 else [], "groups": []} for i in range(n)]
    for members in groups.values():
        todo[shard_of[members[0]]]["groups"].append([offsets[m] for m in members])
    for i in range(n):
        atomic_write_json(shards / f"{i:05d}" / TODO, todo[i])


def apply_shard(ctx: StageContext, inp: StageInput, p: PairsParams, offset: int) -> Iterator[Item]:
    todo = read_json_file(ctx.stage_dir / TODO)
    with open(inp.path, "rb") as fh:
        def at(pos: int) -> Record:
            fh.seek(pos)
            obj = orjson.loads(fh.readline())
            return Record(obj["id"], obj["messages"], obj.get("meta") or {})

        for pos, other in todo["grouping"]:
            yield incomplete(at(pos)) if other is None else same_answer(at(pos), other)
        groups = [[at(pos) for pos in members] for members in todo["groups"]]
    yield from judged(ctx, groups, p)


SPEC = OpSpec(
    name="pairs", fn=run, params=PairsParams, version=3, min_inputs=1, uses_llm=True,
    prompts=JUDGE_PROMPTS,
    shard_steps=ShardSteps(map_shard, reduce_shards, apply_shard, context=True),
    doc="DPO preference pairs: group responses by prompt, judge each (0-5), best = chosen, "
        "worst = rejected (meta.chosen / meta.rejected); export with format dpo.",
)
