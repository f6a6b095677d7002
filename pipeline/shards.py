"""A stage as shards of its input: the recorded plan, one shard's run (`run_shard`), the merge.

A per-record op (`OpSpec.sharding == "record"`) with one input may run as shards: line ranges
of the input file, each written to `<stage>/shards/NNNNN/{data,rejected}.jsonl, stats.json` and
marked finished by its `done.json`. The merge concatenates the shard files in plan order, so the
stage's files are byte for byte those of a one-process run. Shard files and markers are the only
state shared between the driver and the workers.
"""

from __future__ import annotations

import math
import resource
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.jsonl import JsonlAppender, atomic_write_json, read_json_file
from pipeline.ops.base import StageContext, StageInput
from pipeline.record import Record, Rejected, check_messages
from pipeline.rundir import DATA, DONE, REJECTED, STATS
from pipeline.tokens import using

WORKER_FIGURES = ("seconds", "peak_rss_mb")  # a shard's stats.json entries that are not counters
SHARDS, PLAN, MAPPED, REDUCED = "shards", "plan.json", "map.json", "reduce.json"
MAP_STATS = "map_stats.json"  # counters of a map step that asks an LLM (tag) or counts
AUTO_MIN_SHARD = 1000  # records: below this a shard costs more to schedule than to run
SHARDS_PER_WORKER = 8  # the last shards to finish leave the other workers idle: at most 1/8 of a stage


def write_items(items, data: Path, rejected: Path, counters: Counter, advance=lambda n: None,
                tick=None) -> None:
    """Stream an op's items into its kept and rejected files, counting them (shared with the runner)."""
    with JsonlAppender(data) as out, JsonlAppender(rejected) as rej:
        for item in items:
            if isinstance(item, Record):
                problems = check_messages(item.messages)
                if problems:
                    item = Rejected(problems[0].code, "; ".join(map(str, problems)), record=item)
            if isinstance(item, Record):
                out.write(item.to_bytes())
                counters["records_out"] += 1
            else:
                rej.write(item.to_bytes())
                counters["rejected"] += 1
                counters[item.counter] += 1
            advance(1)
            if tick is not None:
                tick()


def auto_shard_size(records: int, workers: int) -> int:
    return max(AUTO_MIN_SHARD, math.ceil(records / (workers * SHARDS_PER_WORKER)))


def plan_shards(path: Path, shard_size: int) -> list[dict]:
    """Line ranges of `path`, `shard_size` records each (the last one shorter): deterministic."""
    shards, start, pos, lines, first = [], 0, 0, 0, 1
    with open(path, "rb") as fh:
        for raw in fh:
            pos += len(raw)
            if not raw.strip():
                continue
            lines += 1
            if lines == shard_size:
                shards.append({"first_line": first, "records": lines, "start": start, "end": pos})
                start, first, lines = pos, first + lines, 0
    if lines:
        shards.append({"first_line": first, "records": lines, "start": start, "end": pos})
    return shards


def shards_dir(stage_dir: Path) -> Path:
    return stage_dir / SHARDS


def shard_dir(stage_dir: Path, index: int) -> Path:
    return shards_dir(stage_dir) / f"{index:05d}"


def load_or_plan(stage_dir: Path, fingerprint: str, inp: StageInput | None, shard_size: int,
                 files: list[Path] | None = None) -> dict:
    """The stage's recorded plan when it belongs to this fingerprint (a resumed run keeps its
    shards whatever `--workers` says now), else a new plan (and no stale shard left). A stage
    with no input (`files` given) gets a shard per file instead of line ranges."""
    path = shards_dir(stage_dir) / PLAN
    if path.exists():
        plan = read_json_file(path)
        same = ([s.get("file") for s in plan.get("shards", [])] == [str(f) for f in files] if files is not None
                else plan.get("records") == inp.count)
        if plan.get("fingerprint") == fingerprint and same:
            return plan
    shutil.rmtree(shards_dir(stage_dir), ignore_errors=True)
    if files is not None:
        plan = {"fingerprint": fingerprint, "input": None, "records": 0, "shard_size": 1,
                "shards": [{"file": str(f), "records": 0} for f in files]}
    else:
        plan = {"fingerprint": fingerprint, "input": inp.stage_id, "records": inp.count,
                "shard_size": shard_size, "shards": plan_shards(inp.path, shard_size)}
    shards_dir(stage_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, plan)
    return plan


def read_plan(stage_dir: Path) -> dict | None:
    path = shards_dir(stage_dir) / PLAN
    return read_json_file(path) if path.exists() else None


def shard_done(stage_dir: Path, index: int, fingerprint: str, name: str = DONE) -> bool:
    marker = shard_dir(stage_dir, index) / name
    return marker.exists() and read_json_file(marker).get("fingerprint") == fingerprint


def shards_progress(stage_dir: Path) -> tuple[int, int] | None:
    """`(done, total)` shards of a sharded stage (for `status`), or None."""
    plan = read_plan(stage_dir)
    if not plan:
        return None
    n = len(plan["shards"])
    return sum(shard_done(stage_dir, i, plan["fingerprint"]) for i in range(n)), n


@dataclass
class ShardJob:
    """Everything a worker needs to run any shard of one stage (datatrove's pipeline + rank)."""

    stage: object  # pipeline.recipe.Stage
    run_dir: Path
    recipe_dir: Path | None
    input: StageInput
    plan: dict
    extra: dict
    upstream: list = field(default_factory=list)
    llm_overrides: dict = field(default_factory=dict)
    workers: int = 1
    phase: str = "records"  # or, for a global op's shard_steps, "map" and then "apply"

    @property
    def stage_dir(self) -> Path:
        return Path(self.run_dir) / self.stage.id

    @property
    def marker(self) -> str:
        """The file that says a shard has finished this job's phase."""
        return MAPPED if self.phase == "map" else DONE

    def done(self, index: int) -> bool:
        return shard_done(self.stage_dir, index, self.plan["fingerprint"], self.marker)


def run_shard(job: ShardJob, index: int, slot: int = 0, advance=lambda n: None) -> Counter:
    """Run shard `index` of the job's stage from its start; write its files and marker last."""
    st, shard = job.stage, job.plan["shards"][index]
    folder = shard_dir(job.stage_dir, index)
    folder.mkdir(parents=True, exist_ok=True)
    inp, params = shard_input(job, shard)
    steps = st.op.shard_steps
    if job.phase == "map" and not steps.context:
        steps.map(inp, params, folder)
        atomic_write_json(folder / MAPPED, {"fingerprint": job.plan["fingerprint"]})
        advance(shard["records"])
        return Counter()
    for name in (DONE, DATA, REJECTED, STATS, MAP_STATS):  # a killed attempt's files: the shard starts afresh
        if name != MAP_STATS or job.phase == "map":
            (folder / name).unlink(missing_ok=True)
    ctx = StageContext(st.id, st.op.name, folder, Path(job.run_dir), recipe_dir=job.recipe_dir,
                       upstream=job.upstream, extra=dict(job.extra, shard=index))
    if job.phase != "map" and inp is not None:
        ctx.counters["records_in"] = shard["records"]
    started = time.monotonic()
    ctx.llm = worker_llm(job, ctx, slot)  # an LLM op may ask in any of its steps (tag in map, pairs in apply)
    try:
        with using(st.tokenizer):
            if job.phase == "map":
                steps.map(ctx, inp, params, folder)
                advance(shard["records"])
            else:
                items = (st.op.fn(ctx, [inp] if inp is not None else [], params) if job.phase == "records" else
                         steps.apply(ctx, inp, params, shard["first_line"] - 1))
                write_items(items, folder / DATA, folder / REJECTED, ctx.counters, advance)
    finally:
        if ctx.llm is not None:
            ctx.llm.close()
    figures = {"seconds": round(time.monotonic() - started, 3), "peak_rss_mb": peak_rss_mb()}
    atomic_write_json(folder / (MAP_STATS if job.phase == "map" else STATS), {**figures, **ctx.counters})
    atomic_write_json(folder / job.marker, {"fingerprint": job.plan["fingerprint"]})
    return ctx.counters


def shard_input(job: ShardJob, shard: dict) -> tuple[StageInput | None, object]:
    """A shard's input (its line range) and parameters; a file shard reads its file instead."""
    if "file" in shard:
        return None, job.stage.params.model_copy(update={"path": shard["file"]})
    span = (shard["start"], shard["end"])
    return StageInput(job.input.stage_id, job.input.path, shard["records"], span), job.stage.params


def peak_rss_mb() -> float:
    """The peak resident memory of this process so far (the worker's, for bench/scale.py)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def split_exact(total: float | int, workers: int, slot: int) -> float | int:
    """Slot `slot`'s share of a limit split over `workers`: integers split with the remainder
    going to the first slots, so the shares add up to the limit exactly."""
    if isinstance(total, int):
        return total // workers + (1 if slot < total % workers else 0)
    return total / workers


def worker_llm(job: ShardJob, ctx: StageContext, slot: int):
    """A shard's own LLM client, its stage's concurrency, rpm and tpm split over the workers."""
    st = job.stage
    if not st.op.uses_llm:
        return None
    from pipeline.llm.client import client_for_stage, stage_settings

    settings = stage_settings(st, job.llm_overrides)
    share = {k: split_exact(getattr(settings, k), job.workers, slot)
             for k in ("concurrency", "rpm", "tpm") if getattr(settings, k) is not None}
    client = client_for_stage(st, ctx, {**job.llm_overrides, **share})
    client.cache.shared = True  # budgets see what the other workers spend
    return client


def merge_shards(job: ShardJob, data: Path, rejected: Path, extra: Counter | None = None) -> Counter:
    """Concatenate the finished shards' files in plan order; sum their counters (and those of
    their map steps and of the driver's reduce, `extra`)."""
    total: Counter = Counter(extra or {})
    with open(data, "wb") as out, open(rejected, "wb") as rej:
        for i in range(len(job.plan["shards"])):
            folder = shard_dir(job.stage_dir, i)
            for name, fh in ((DATA, out), (REJECTED, rej)):
                with open(folder / name, "rb") as src:
                    shutil.copyfileobj(src, fh, 1 << 20)
            for name in (MAP_STATS, STATS):
                if (folder / name).exists():
                    stats = read_json_file(folder / name)
                    for timing in WORKER_FIGURES:  # not counters: they differ from run to run
                        stats.pop(timing, None)
                    total.update(stats)
    if job.stage.op.merge_counters is not None:
        job.stage.op.merge_counters(total)
    if "cost_usd" in total:
        total["cost_usd"] = round(total["cost_usd"], 9)
    return total
