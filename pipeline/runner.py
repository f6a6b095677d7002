"""Run a recipe into a run folder, skipping done stages and resuming interrupted ones.

A stage is done when its `done.json` marker holds its current fingerprint. An interrupted
stage (same fingerprint in `started.json`) resumes: the op runs again from its start (LLM ops
answer from the request cache, so nothing answered is paid again) and its files are written
afresh. A stage whose fingerprint changed, or that `--force` names, starts from scratch (its
folder emptied), and so does everything downstream of it.
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from pipeline import __version__
from pipeline.errors import ConfigError, InputError, UserError
from pipeline.fingerprint import describe_files, stage_fingerprint
from pipeline.jsonl import read_jsonl, repair_tail
from pipeline.llm.preflight import preflight
from pipeline.ops.base import StageContext, StageInput
from pipeline.progress import say, stage_progress
from pipeline.recipe import Recipe, Stage
from pipeline.sharded import run_sharded, shard_workers
from pipeline.shards import shards_progress, write_items
from pipeline.tokens import using
from pipeline.rundir import (DATA, DONE, FAILED, REJECTED, STARTED, STAT_FIELDS, STATS, RunDir,
                             RunFolderError, os_problem)

PACKAGES = ("datasets", "openai", "pandas", "rapidfuzz", "pydantic", "pyarrow")
STATS_EVERY = 2.0


@dataclass
class RunOptions:
    only: str | None = None
    until: str | None = None
    force: tuple[str, ...] = ()
    dry_run: bool = False
    llm_overrides: dict = field(default_factory=dict)
    no_cache: tuple[str, ...] = ()  # stages that re-sample instead of replaying the cache
    workers: int | None = None  # `--workers`: shards of per-record stages in N processes


def versions() -> dict:
    out = {"instructpipe": __version__, "python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


class Runner:
    def __init__(self, recipe: Recipe, out_dir: Path, opts: RunOptions | None = None):
        self.recipe, self.rd, self.opts = recipe, RunDir(out_dir), opts or RunOptions()
        if self.opts.llm_overrides:  # --model/--base-url change what a stage produces
            for st in recipe.stages:
                if st.llm is not None:
                    st.llm = st.llm.model_copy(update=self.opts.llm_overrides)
        self.fps: dict[str, str] = {}
        for st in recipe.stages:
            self.fps[st.id] = stage_fingerprint(st, [self.fps[i] for i in st.inputs], self.rd.root)

    def selected(self) -> list[Stage]:
        ids = {s.id for s in self.recipe.stages}
        if self.opts.until:
            ids = self.recipe.upstream(self.recipe.stage(self.opts.until).id)
        if self.opts.only:
            ids = {self.recipe.stage(self.opts.only).id}
        return [s for s in self.recipe.stages if s.id in ids]

    def forced(self) -> set[str]:
        out: set[str] = set()
        for sid in self.opts.force + self.opts.no_cache:
            out |= self.recipe.downstream(self.recipe.stage(sid).id)
        return out

    def run(self) -> dict:
        """Run the selected stages; return `{stage_id: "ran" | "skipped"}`."""
        plan = self.selected()
        forced = self.forced()
        if self.opts.dry_run:
            return self.dry_run(plan, forced)
        try:
            return self.run_plan(plan, forced)
        except OSError as e:  # a full disk, a read-only folder: one line, not a traceback
            raise RunFolderError(os_problem(e)) from None

    def join_engine(self, plan: list[Stage], forced: set[str]) -> None:
        """On Ray, join the cluster and check every node sees the run folder before any stage runs."""
        todo = [st for st in plan if st.id in forced or not self.rd.is_done(st.id, self.fps[st.id])]
        if todo and self.recipe.engine.get("kind") == "ray":
            from pipeline.ray_engine import connect

            connect(self.recipe.engine.get("address"), self.rd.root)

    def run_plan(self, plan: list[Stage], forced: set[str]) -> dict:
        self.rd.lock()
        try:
            self.write_manifest()
            preflight(self, plan, forced)
            self.join_engine(plan, forced)
            outcome = {}
            for st in plan:
                if self.rd.is_done(st.id, self.fps[st.id]) and st.id not in forced:
                    say(f"[{st.id}] done, skipped")
                    outcome[st.id] = "skipped"
                    continue
                self.check_inputs_ready(st)
                self.execute(st, fresh=st.id in forced)
                outcome[st.id] = "ran"
                self.write_manifest()
            if all(v == "skipped" for v in outcome.values()):
                say("nothing to do: every stage is done")
            return outcome
        finally:
            self.rd.unlock()

    def dry_run(self, plan: list[Stage], forced: set[str]) -> dict:
        outcome = {}
        for st in plan:
            done = self.rd.is_done(st.id, self.fps[st.id]) and st.id not in forced
            outcome[st.id] = "would skip" if done else "would run"
            say(f"[{st.id}] {st.op.name}: {outcome[st.id]}")
        if any(st.op.uses_llm for st in plan):
            from pipeline.llm.dryrun import render_llm_stages

            render_llm_stages(self, plan, forced)
        return outcome

    def check_inputs_ready(self, st: Stage) -> None:
        for inp in st.inputs:
            if not self.rd.is_done(inp, self.fps[inp]):
                raise ConfigError(f"stage {st.id!r} needs {inp!r}, which is not done; "
                                  f"run it first (without --only, or with --until {inp})")

    def inputs(self, st: Stage) -> list[StageInput]:
        return [StageInput(i, self.rd.file(i, DATA), int(self.rd.stats(i).get("records_out", 0)))
                for i in st.inputs]

    # -- one stage --------------------------------------------------------------------------
    def execute(self, st: Stage, fresh: bool = False) -> None:
        rd, fp = self.rd, self.fps[st.id]
        refresh = self.begin(st, fresh)
        inputs = self.inputs(st)
        ctx = StageContext(st.id, st.op.name, rd.stage_dir(st.id), rd.root,
                           recipe_dir=self.recipe.folder, upstream=self.upstream_summary(st),
                           extra={"recipe": self.recipe.name, "fingerprint": fp,
                                  "cache_refresh_since": refresh})
        ctx.counters["records_in"] = sum(i.count for i in inputs)
        workers = shard_workers(self, st, inputs)
        ctx.llm = None if workers else self.make_llm(st, ctx)
        say(f"[{st.id}] {st.op.name}: running")
        started_at = time.monotonic()
        try:
            with using(st.tokenizer):
                if workers:
                    run_sharded(self, st, ctx, inputs[0] if inputs else None, workers)
                else:
                    self.stream(st, ctx, inputs)
        except BaseException as e:
            # best effort: on a full disk these writes fail too, and must not hide the first error
            with contextlib.suppress(OSError):
                self.write_stats(st, ctx, time.monotonic() - started_at, partial=True)
                if isinstance(e, Exception) and not getattr(e, "keeps_partial", False):
                    error = os_problem(e) if isinstance(e, OSError) else str(e)
                    rd.write(st.id, FAILED, {"error": error, "type": type(e).__name__})
            raise
        finally:
            if ctx.llm is not None and hasattr(ctx.llm, "close"):
                ctx.llm.close()
        check_ledger(st.id, ctx.counters)
        self.write_stats(st, ctx, time.monotonic() - started_at)
        rd.write(st.id, DONE, {"fingerprint": fp, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        for line in done_lines(st.id, ctx.counters):
            say(line)

    def begin(self, st: Stage, fresh: bool) -> float | None:
        """Open an attempt at a stage: resume the interrupted one (same fingerprint) or start from
        scratch. Returns the time a `--no-cache` re-sampling began (its answers are reused)."""
        rd, fp = self.rd, self.fps[st.id]
        for down in self.recipe.downstream(st.id) - {st.id}:
            rd.remove(down, DONE)
        started = rd.read(st.id, STARTED) if not fresh else None
        if started and started.get("fingerprint") == fp:
            # The op runs again from its start (LLM answers come from the request cache) and
            # its files are written afresh, so an input whose outcome changed since the
            # interrupted attempt (a rejection that is now a record, or back) lands once.
            written = count_written(rd.file(st.id, DATA), rd.file(st.id, REJECTED))
            shards = shards_progress(rd.stage_dir(st.id))
            if shards:
                say(f"[{st.id}] resuming: {shards[0]} of {shards[1]} shards are done; the others "
                    "run again from their start (answered requests come from the cache)")
            else:
                say(f"[{st.id}] resuming: the interrupted attempt wrote {written} items; the stage "
                    "writes its files again (answered requests come from the cache)")
            refresh = started.get("refresh_since")
        else:
            if fresh:
                say(f"[{st.id}] starting from scratch (answered requests come from the cache)")
            rd.clear(st.id)
            refresh = time.time() if st.id in self.opts.no_cache else None
        rd.stage_dir(st.id).mkdir(parents=True, exist_ok=True)
        rd.remove(st.id, DONE, FAILED, DATA, REJECTED, STATS)
        rd.write(st.id, STARTED, {"fingerprint": fp, **({"refresh_since": refresh} if refresh else {})})
        return refresh

    def stream(self, st: Stage, ctx: StageContext, inputs: list[StageInput]) -> None:
        last = time.monotonic()

        def tick() -> None:
            nonlocal last
            if time.monotonic() - last >= STATS_EVERY:
                last = time.monotonic()
                self.write_stats(st, ctx, 0.0, partial=True)

        with stage_progress(st.id, ctx.counters["records_in"] or None) as advance:
            ctx.progress = advance
            write_items(st.op.fn(ctx, inputs, st.params), self.rd.file(st.id, DATA),
                        self.rd.file(st.id, REJECTED), ctx.counters, advance, tick)

    def make_llm(self, st: Stage, ctx: StageContext):
        """The LLM client of an LLM stage (None for the others)."""
        if not st.op.uses_llm:
            return None
        from pipeline.llm.client import client_for_stage  # imported lazily: heavy

        return client_for_stage(st, ctx, self.opts.llm_overrides)

    def write_stats(self, st: Stage, ctx: StageContext, seconds: float, partial: bool = False) -> None:
        stats = {"id": st.id, "op": st.op.name, "fingerprint": self.fps[st.id],
                 "state": "partial" if partial else "done"}
        for key in STAT_FIELDS:
            stats[key] = ctx.counters.get(key, 0)
        stats.update(sorted((k, v) for k, v in ctx.counters.items() if k not in stats))
        if seconds:
            stats["seconds"] = round(seconds, 3)
        self.rd.write(st.id, STATS, stats)

    def upstream_summary(self, st: Stage) -> list[dict]:
        """Counters of every done stage this one depends on, in recipe order (for cards)."""
        ids = self.recipe.upstream(st.id) - {st.id}
        out = []
        for s in self.recipe.stages:
            if s.id in ids:
                stats = self.rd.stats(s.id)
                reasons = {k[len("dropped_"):]: v for k, v in stats.items() if k.startswith("dropped_")}
                out.append({"id": s.id, "op": s.op.name, "records_in": stats.get("records_in", 0),
                            "records_out": stats.get("records_out", 0),
                            "rejected": stats.get("rejected", 0), "reasons": reasons})
        return out

    def write_manifest(self) -> None:
        stages = {}
        for st in self.recipe.stages:
            stats = self.rd.stats(st.id)
            entry = {"op": st.op.name, "op_version": st.op.version, "fingerprint": self.fps[st.id],
                     "inputs": list(st.inputs), "state": self.rd.state(st.id, self.fps[st.id]),
                     "output": f"{st.id}/{DATA}", "rejected_file": f"{st.id}/{REJECTED}"}
            entry.update({k: stats.get(k, 0) for k in STAT_FIELDS})
            files = describe_files(st.params.model_dump(mode="json"), st.op.path_params)
            if files:
                entry["files"] = files
            stages[st.id] = entry
        self.rd.write_manifest({
            "name": self.recipe.name, "recipe_path": str(self.recipe.path) if self.recipe.path else None,
            "recipe": self.recipe.shown, "versions": versions(), "stages": stages,
            **tokenizer_entry(self.recipe.stages),
        })


def tokenizer_entry(stages: list[Stage]) -> dict:
    """`{"tokenizer": path}` for the manifest (read by the report) when the recipe names one."""
    path = next((s.tokenizer for s in stages if s.tokenizer), None)
    return {"tokenizer": path} if path else {}


def count_written(data: Path, rejected: Path) -> int:
    """Items an interrupted attempt wrote (torn tails cut first). A file corrupt inside, not
    just at its end, was not torn by a crash: refuse rather than overwrite it unseen."""
    n = 0
    for path in (data, rejected):
        repair_tail(path)
        if not path.exists():
            continue
        try:
            n += sum(1 for _ in read_jsonl(path, trusted=True))
        except UserError as e:
            raise InputError(f"{e} (the stage file is corrupt inside, not just at its end; "
                             "delete it or re-run with --force to redo the stage)") from None
    return n


def done_lines(stage_id: str, c: Counter, top: int = 3) -> list[str]:
    """The console lines of a finished stage: counts that add up (in + generated = out + rejected
    + consumed), its top rejection reasons, and a warning when it kept nothing."""
    counts = f"{c['records_in']} in, {c['records_out']} out, {c['rejected']} rejected"
    counts += "".join(f", {c[k]} {k}" for k in ("generated", "consumed") if c[k])
    lines = [f"[{stage_id}] done: {counts}"]
    reasons = sorted(((k[len("dropped_"):], v) for k, v in c.items() if k.startswith("dropped_") and v),
                     key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{reason} {n}" for reason, n in reasons[:top])
    if len(reasons) > top:
        shown += f", {len(reasons) - top} more reasons"
    if reasons:
        lines.append(f"[{stage_id}] rejected: {shown} (see {stage_id}/{REJECTED})")
    if not c["records_out"] and c["records_in"] + c["generated"]:
        lines.append(f"[{stage_id}] warning: the stage kept no record; stages reading it get nothing")
    return lines


def check_ledger(stage_id: str, c: Counter) -> None:
    left = c["records_in"] + c["generated"]
    right = c["records_out"] + c["rejected"] + c["consumed"]
    if left != right:
        raise RuntimeError(f"stage {stage_id}: ledger does not balance: in {c['records_in']} + generated "
                           f"{c['generated']} != out {c['records_out']} + rejected {c['rejected']} "
                           f"+ consumed {c['consumed']}")
