"""The driver's side of a sharded stage: whether it shards, its plan, its executor, the merge."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from pipeline.executors import run_in_pool, run_in_process
from pipeline.ops.base import StageContext, StageInput
from pipeline.progress import say, stage_progress
from pipeline.rundir import DATA, REJECTED
from pipeline.jsonl import atomic_write_json, read_json_file
from pipeline.shards import (REDUCED, ShardJob, auto_shard_size, load_or_plan, merge_shards, read_plan,
                             shard_done, shards_dir)


def engine_workers(runner) -> int:
    """`--workers`, else the recipe's `engine: {workers: N}`, else 1 (one process, as ever); on
    Ray, else the cluster's CPUs."""
    engine = runner.recipe.engine
    if runner.opts.workers or engine.get("workers") or engine.get("kind") != "ray":
        return int(runner.opts.workers or engine.get("workers") or 1)
    from pipeline.ray_engine import cluster_cpus

    return cluster_cpus()


def shard_workers(runner, st, inputs: list[StageInput]) -> int:
    """How many workers run this stage's shards, or 0 to run it in one piece.

    A per-record op with one non-empty input shards when workers > 1, and also with one worker
    when an interrupted sharded attempt left a plan (its finished shards are kept); so does an
    op without inputs that reads several files (`input_files`). An LLM stage gets no more
    workers than its concurrency, so each worker holds at least one request slot.
    """
    kind = st.op.sharding(st.params) if callable(st.op.sharding) else st.op.sharding
    if input_files(runner, st) is None and ((kind != "record" and st.op.shard_steps is None)
                                            or len(inputs) != 1 or not inputs[0].count):
        return 0
    workers = engine_workers(runner)
    if st.op.uses_llm:
        from pipeline.llm.client import stage_settings

        settings = stage_settings(st, runner.opts.llm_overrides)
        if settings.mode == "batch":  # one process owns a stage's batch jobs
            return 0
        workers = min(workers, settings.concurrency)
    plan = read_plan(runner.rd.stage_dir(st.id))
    resumable = bool(plan) and plan.get("fingerprint") == runner.fps[st.id]
    return workers if workers > 1 or resumable else 0


def input_files(runner, st) -> list | None:
    """The files of an op without inputs that reads several of them, one shard each (or None)."""
    if st.op.input_files is None or st.inputs:
        return None
    files = st.op.input_files(st.params, runner.recipe.folder)
    return files if files and len(files) > 1 else None


def run_sharded(runner, st, ctx: StageContext, inp: StageInput | None, workers: int) -> None:
    """Plan (or reload) the shards, run the unfinished ones, merge them into the stage's files.
    A global op with `shard_steps` first maps every shard and decides at the driver."""
    rd, fp = runner.rd, runner.fps[st.id]
    files = input_files(runner, st) if inp is None else None
    size = int(runner.recipe.engine.get("shard_size") or auto_shard_size(inp.count if inp else 0, workers))
    steps = st.op.shard_steps
    if steps is not None and steps.align is not None:
        size = -(-size // steps.align(st.params)) * steps.align(st.params)
    plan = load_or_plan(rd.stage_dir(st.id), fp, inp, size, files)
    job = ShardJob(st, rd.root, runner.recipe.folder, inp, plan, ctx.extra, ctx.upstream,
                   runner.opts.llm_overrides, workers, phase_of(st.op))
    n = len(plan["shards"])
    todo = [i for i in range(n) if not job.done(i)]
    finished = sum(shard_done(job.stage_dir, i, fp) for i in range(n))  # written, not only mapped
    kept = f", {finished} done before" if finished else ""
    what = "one file each" if files else f"up to {plan['shard_size']} records"
    say(f"[{st.id}] {n} shards of {what}, {workers} worker{'s' if workers > 1 else ''}{kept}")
    if st.op.uses_llm:  # the cache file and its WAL mode are set up once, before the workers race for it
        from pipeline.llm.cache import cache_path, connect

        connect(cache_path(rd.root)).close()
    engine = runner.recipe.engine  # on Ray, joined (and the run folder checked) before the first stage
    decided = Counter()
    if job.phase != "records":
        if job.phase == "map":  # the long part of some (an LLM's or a model's work): a bar of its own
            with stage_progress(f"{st.id} (map)", inp.count) as advance:
                advance(sum(s["records"] for i, s in enumerate(plan["shards"]) if i not in todo))
                run_phase(job, todo, workers, advance, engine)
        decided = decide(job, ctx, n)
        job.phase = "apply"
        todo = [i for i in range(n) if not job.done(i)]
    with stage_progress(st.id, inp.count if inp else None) as advance:
        done = set(range(n)) - set(todo)
        advance(sum(s["records"] for i, s in enumerate(plan["shards"]) if i in done))
        run_phase(job, todo, workers, advance, engine)
    counters = merge_shards(job, rd.file(st.id, DATA), rd.file(st.id, REJECTED), decided)
    ctx.counters.clear()
    ctx.counters.update(counters)


def phase_of(op) -> str:
    """The first phase: a per-record op's only one, or a global op's map (or, with no map, apply)."""
    if op.shard_steps is None:
        return "records"
    return "map" if op.shard_steps.map is not None else "apply"


def run_phase(job: ShardJob, todo: list[int], workers: int, advance, engine: dict) -> None:
    job.workers = max(1, min(workers, len(todo)))  # the LLM limits split over the running workers
    if engine.get("kind") == "ray":
        from pipeline.ray_engine import run_in_ray

        run_in_ray(job, todo, job.workers, advance)
    elif job.workers == 1:
        run_in_process(job, todo, advance)
    else:
        run_in_pool(job, todo, job.workers, advance)


def decide(job: ShardJob, ctx: StageContext, n: int) -> Counter:
    """The driver's step of a global op: read every shard's map, write the decisions (once).
    Returns the counters the step counted (kept in its marker, for a resumed run)."""
    folder, fp = shards_dir(job.stage_dir), job.plan["fingerprint"]
    marker = folder / REDUCED
    if marker.exists() and read_json_file(marker).get("fingerprint") == fp:
        return Counter(read_json_file(marker).get("counters", {}))
    steps, counted = job.stage.op.shard_steps, Counter()
    if steps.context:
        steps.reduce(replace(ctx, counters=counted), folder, n, job.stage.params)
    else:
        steps.reduce(folder, n, job.stage.params)
    atomic_write_json(marker, {"fingerprint": fp, "counters": dict(counted)})
    return counted
