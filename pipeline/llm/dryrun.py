"""`run --dry-run` for LLM stages: render the first round of requests without touching the network,
and estimate the whole stage from it (`stage_estimate`) at known prices (`pricing`).

Upstream stages that are not done and need no LLM run into a scratch folder (hub access is
switched off), so their output can feed the LLM stages. Each LLM stage's op runs against
`DryRunLLM`, which records requests instead of sending them. The counts, token and cost
estimates and sample prompts go to `<run>/dry-run/`.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator

from pipeline import tokens
from pipeline.errors import UserError
from pipeline.jsonl import JsonlAppender, atomic_write_json, atomic_write_text
from pipeline.llm.canonical import Prepared, prepare
from pipeline.llm.client import stage_settings
from pipeline.llm.pricing import prices
from pipeline.llm.fleet import cache_endpoints, server_urls
from pipeline.llm.stage_estimate import whole_stage
from pipeline.ops.base import StageContext, StageInput
from pipeline.progress import say
from pipeline.record import Record
from pipeline.rundir import DATA

ASSUMED_OUTPUT_TOKENS = 256
# What the numbers are: `requests` is counted from rendered requests; these are estimates.
ESTIMATED = ["tokens_in_est (about 4 characters per token)",
             "tokens_out_est (max_tokens per reply, else an assumed length)",
             "cost_usd_est (those tokens at price_in/price_out)",
             "stage.* (the first round's average tokens per request, times the stage's requests)"]
SAMPLES = 5
CHUNK = 1000
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


class FirstRoundDone(Exception):
    """Raised by `DryRunLLM.ask`: a sequential op stops at its first request."""


class DryRunLLM:
    """A `StageLLM` that records the first round of requests and answers none."""

    def __init__(self, settings: Any, endpoint: str):
        self.settings, self.endpoint = settings, endpoint
        self.model = settings.model or "(model not set)"
        self.requests: list[Prepared] = []

    def _record(self, request) -> None:
        self.requests.append(prepare(request, self.settings, self.model, self.endpoint))

    def run(self, requests: Iterable) -> Iterator:
        for request in requests:
            self._record(request)
        return iter(())

    def ask(self, request):
        self._record(request)
        raise FirstRoundDone()

    def run_tasks(self, tasks: Iterable) -> Iterator:
        loop = asyncio.new_event_loop()
        try:
            batch = []
            for fn in tasks:
                batch.append(fn)
                if len(batch) >= CHUNK:
                    loop.run_until_complete(self._first_asks(batch))
                    batch = []
            if batch:
                loop.run_until_complete(self._first_asks(batch))
        finally:
            loop.close()
        return iter(())

    async def _first_asks(self, fns: list) -> None:
        async def ask(request):
            self._record(request)
            await asyncio.Future()  # never answered: the task stops at its first round

        tasks = [asyncio.ensure_future(fn(ask)) for fn in fns]
        seen = -1
        while seen != len(self.requests):  # let every task reach its first ask(s)
            seen = len(self.requests)
            for _ in range(3):
                await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        pass


def estimate(requests: list[Prepared], settings: Any, op: str, params: Any) -> dict:
    """First-round figures (the count is exact, tokens estimated) and the whole stage's estimate."""
    if tokens.active() is not None:  # the recipe's tokenizer counts the prompts
        tokens_in = sum(tokens.request_tokens(p.body) for p in requests)
    else:
        tokens_in = sum(p.estimate - int(p.body.get("max_tokens") or 0) for p in requests)
    per_reply = settings.max_tokens or ASSUMED_OUTPUT_TOKENS
    tokens_out = per_reply * len(requests)
    price = prices(settings)
    whole = whole_stage(op, params, len(requests))
    scale = whole.requests / len(requests) if requests else 0.0
    stage_in, stage_out = round(tokens_in * scale), round(tokens_out * scale)
    return {"requests": len(requests), "tokens_in_est": tokens_in, "tokens_out_est": tokens_out,
            "tokens_out_basis": "max_tokens" if settings.max_tokens else f"assumed {ASSUMED_OUTPUT_TOKENS}/reply",
            "cost_usd_est": round(price.cost(tokens_in, tokens_out), 6), "model": settings.model,
            "mode": settings.mode, "price_in": price.price_in, "price_out": price.price_out,
            "price_source": price.source, "tokens_in_basis": tokens.basis(),
            "stage": {"requests_est": whole.requests, "basis": whole.basis, "count_exact": whole.exact,
                      "tokens_in_est": stage_in, "tokens_out_est": stage_out,
                      "cost_usd_est": round(price.cost(stage_in, stage_out), 6)},
            "estimated": ESTIMATED + ([] if whole.exact else ["stage.requests_est"])}


def estimate_text(entry: dict) -> str:
    """The figures of a stage's dry run for its samples file, each marked counted or estimated."""
    stage = entry["stage"]
    counted = "counted" if stage["count_exact"] else "estimated"
    return (f"Dry run of model `{entry['model']}` ({entry['mode']}); prices per million tokens: "
            f"${entry['price_in']:g} in, ${entry['price_out']:g} out ({entry['price_source']}).\n\n"
            f"- first round: {entry['requests']} requests (counted), ~{entry['tokens_in_est']} input tokens "
            f"(estimated), ~{entry['tokens_out_est']} output tokens (estimated: {entry['tokens_out_basis']}), "
            f"~${entry['cost_usd_est']:.4f} (estimated)\n"
            f"- whole stage: {stage['requests_est']} requests ({counted}: {stage['basis']}), "
            f"~{stage['tokens_in_est']} input and ~{stage['tokens_out_est']} output tokens, "
            f"~${stage['cost_usd_est']:.4f} (estimated from the first round's average per request)\n\n")


def samples_text(stage_id: str, requests: list[Prepared]) -> str:
    parts = [f"# Sample requests of stage `{stage_id}` (first round, {len(requests)} in all)\n"]
    for n, prep in enumerate(requests[:SAMPLES], start=1):
        parts.append(f"\n## Request {n} (key {prep.key}, sample {prep.request.sample})\n")
        params = {k: v for k, v in prep.body.items() if k not in ("messages", "prompt")}
        parts.append(f"\nPOST {prep.path} `{json.dumps(params, ensure_ascii=False)}`\n")
        for m in prep.body.get("messages") or [{"role": "prompt", "content": prep.body.get("prompt")}]:
            parts.append(f"\n### {m['role']}\n\n{m['content']}\n")
    return "".join(parts)


class DryRun:
    def __init__(self, runner: Any, plan: list, forced: set[str]):
        self.runner, self.plan, self.forced = runner, plan, forced
        self.available: dict[str, StageInput] = {}
        self.notes: dict[str, str] = {}
        self.out = runner.rd.root / "dry-run"

    def input_of(self, stage_id: str) -> StageInput | None:
        rd, fps = self.runner.rd, self.runner.fps
        if stage_id in self.available:
            return self.available[stage_id]
        if rd.is_done(stage_id, fps[stage_id]):
            return StageInput(stage_id, rd.file(stage_id, DATA), int(rd.stats(stage_id).get("records_out", 0)))
        return None

    def run_plain(self, st: Any, scratch: Path) -> None:
        """A non-LLM stage that is not done: run it into the scratch folder."""
        inputs = [self.input_of(i) for i in st.inputs]
        if any(i is None for i in inputs):
            return
        ctx = StageContext(st.id, st.op.name, scratch / st.id, scratch, recipe_dir=self.runner.recipe.folder)
        path, kept = scratch / st.id / DATA, 0
        with JsonlAppender(path) as out:
            for item in st.op.fn(ctx, inputs, st.params):
                if isinstance(item, Record):
                    out.write(item.to_json())
                    kept += 1
        self.available[st.id] = StageInput(st.id, path, kept)

    def render(self, st: Any) -> dict:
        settings = stage_settings_lenient(st, self.runner.opts.llm_overrides)
        inputs = [self.input_of(i) for i in st.inputs]
        missing = [sid for sid, i in zip(st.inputs, inputs) if i is None]
        if missing:
            return {"rendered": False, "why": f"its input {missing[0]!r} comes from an LLM stage or could not run"}
        servers = cache_endpoints(server_urls(settings.base_url))
        llm = DryRunLLM(settings, servers[0])
        ctx = StageContext(st.id, st.op.name, self.out, self.out, counters=Counter(),
                           recipe_dir=self.runner.recipe.folder, llm=llm)
        try:
            for _ in st.op.fn(ctx, inputs, st.params):
                pass
        except FirstRoundDone:
            pass
        with tokens.using(st.tokenizer):
            counted = estimate(llm.requests, settings, st.op.name, st.params)
        entry = {"rendered": True, **counted, "servers": servers, "samples": str(self.out / f"{st.id}.md")}
        atomic_write_text(self.out / f"{st.id}.md", estimate_text(entry) + samples_text(st.id, llm.requests))
        return entry

    def run(self) -> dict:
        wanted = {i for st in self.plan if st.op.uses_llm for i in self.runner.recipe.upstream(st.id)}
        summary = {}
        saved = {k: os.environ.get(k) for k in OFFLINE}
        os.environ.update(OFFLINE)
        try:
            with tempfile.TemporaryDirectory(prefix="dryrun-") as tmp:
                for st in self.plan:
                    if self.runner.rd.is_done(st.id, self.runner.fps[st.id]) and st.id not in self.forced:
                        continue
                    try:
                        if st.op.uses_llm:
                            summary[st.id] = self.render(st)
                            report(st.id, summary[st.id])
                        elif st.id in wanted:
                            self.run_plain(st, Path(tmp))
                    except (UserError, OSError) as e:
                        summary[st.id] = {"rendered": False, "why": str(e)}
                        report(st.id, summary[st.id])
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        if summary:
            atomic_write_json(self.out / "summary.json", summary)
        return summary


def stage_settings_lenient(st: Any, overrides: dict) -> Any:
    """Settings for rendering: a missing model is shown, not an error."""
    try:
        return stage_settings(st, overrides)
    except UserError:
        return st.llm.model_copy(update={k: v for k, v in (overrides or {}).items()})


def report(stage_id: str, entry: dict) -> None:
    if not entry.get("rendered"):
        say(f"[{stage_id}] dry run: not rendered ({entry['why']})")
        return
    stage = entry["stage"]
    approx = "" if stage["count_exact"] else "~"
    price = f"prices {entry['price_source']}" if entry["price_source"] != "unknown" else \
        f"no price known for {entry['model']}: set price_in/price_out"
    servers = entry.get("servers") or []
    where = f" at {servers[0]}" if len(servers) == 1 else f" spread over {len(servers)} servers ({', '.join(servers)})"
    say(f"[{stage_id}] dry run: {entry['requests']} requests rendered (first round) to {entry['model']}{where}; "
        f"whole stage, estimated: {approx}{stage['requests_est']} requests ({stage['basis']}), "
        f"~{stage['tokens_in_est']} input and ~{stage['tokens_out_est']} output tokens "
        f"({entry['tokens_out_basis']}), ~${stage['cost_usd_est']:.4f} ({price}); samples: {entry['samples']}")


def render_llm_stages(runner: Any, plan: list, forced: set[str]) -> dict:
    """Entry point for `Runner.dry_run`."""
    return DryRun(runner, plan, forced).run()
