"""LLM layer throughput: the `respond` stage vs a bare `AsyncOpenAI` loop on a local fake server.

For each (concurrency, latency) it runs, in one process and one run: a bare SDK loop
(`chat.completions.create` under a semaphore, default client), the `respond` stage on the same
records through the runner (cache and writing included), and a short naive sequential loop.
It prints throughput as a fraction of the ceiling (concurrency / latency), the stage/bare
ratio, client CPU ms per request, and the speed-up over the sequential loop.

    python bench/llm_throughput.py [--records 2000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ALPACA = Path("/work/shared/data/alpaca/alpaca_data.json")
SAMPLE = ROOT / "sources" / "samples" / "alpaca_sample.json"


def instructions(n: int) -> list[str]:
    source = ALPACA if ALPACA.exists() else SAMPLE
    rows = [r for r in json.loads(source.read_text()) if not r.get("input")]
    return [rows[i % len(rows)]["instruction"] + ("" if i < len(rows) else f" ({i})") for i in range(n)]


class Server:
    """The fake OpenAI server in its own process, so its CPU is not the client's."""

    def __init__(self, latency: float):
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fake_openai", "--latency", str(latency)],
                                     cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                     env=dict(os.environ, PYTHONPATH=str(ROOT)))
        self.base_url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}/v1"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


async def bare_loop(base_url: str, texts: list[str], concurrency: int) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key="bench", base_url=base_url)
    sem = asyncio.Semaphore(concurrency)

    async def one(text: str) -> None:
        async with sem:
            reply = await client.chat.completions.create(model="fake-model",
                                                         messages=[{"role": "user", "content": text}])
            assert reply.choices[0].message.content

    await asyncio.gather(*(one(t) for t in texts))
    await client.close()


async def sequential(base_url: str, texts: list[str]) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key="bench", base_url=base_url)
    for text in texts:
        await client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": text}])
    await client.close()


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def stage_run(work: Path, base_url: str, texts: list[str], concurrency: int) -> tuple[float, float]:
    """Time the `respond` stage alone (its input is ingested first, untimed)."""
    import yaml

    from pipeline.recipe import load_recipe
    from pipeline.runner import RunOptions, Runner

    data = work / "in.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": t}]}) + "\n" for t in texts))
    recipe = work / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"name": "bench", "llm": {"model": "fake-model", "base_url": base_url,
                                                                "concurrency": concurrency},
                                      "stages": [{"id": "in", "op": "ingest", "source": "messages",
                                                  "path": str(data)},
                                                 {"id": "respond", "op": "respond", "inputs": ["in"]}]}))
    out = work / "run"
    shutil.rmtree(out, ignore_errors=True)
    rec = load_recipe(recipe)
    Runner(rec, out, RunOptions(until="in")).run()
    wall, cpu = timed(lambda: Runner(rec, out, RunOptions(only="respond")).run())
    stats = json.loads((out / "respond" / "stats.json").read_text())
    assert stats["requests"] == len(texts) and stats["records_out"] == len(texts), stats
    return wall, cpu


def measure(concurrency: int, latency: float, texts: list[str], work: Path, naive_n: int) -> dict:
    server = Server(latency)
    try:
        asyncio.run(bare_loop(server.base_url, texts[:concurrency], concurrency))  # warm up
        bare_wall, bare_cpu = timed(lambda: asyncio.run(bare_loop(server.base_url, texts, concurrency)))
        stage_wall, stage_cpu = stage_run(work, server.base_url, texts, concurrency)
        seq_wall, _ = timed(lambda: asyncio.run(sequential(server.base_url, texts[:naive_n])))
    finally:
        server.close()
    n, ceiling = len(texts), concurrency / latency
    return {"concurrency": concurrency, "latency_ms": int(latency * 1000), "requests": n,
            "bare_s": round(bare_wall, 2), "stage_s": round(stage_wall, 2),
            "bare_of_ceiling": round(n / bare_wall / ceiling, 3),
            "stage_of_ceiling": round(n / stage_wall / ceiling, 3),
            "stage_vs_bare": round(bare_wall / stage_wall, 3),
            "bare_cpu_ms": round(bare_cpu / n * 1000, 3), "stage_cpu_ms": round(stage_cpu / n * 1000, 3),
            "cpu_ratio": round(stage_cpu / bare_cpu, 3),
            "vs_sequential": round((n / stage_wall) / (naive_n / seq_wall), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--quick", action="store_true", help="200 records, for a smoke run")
    args = ap.parse_args()
    n = 200 if args.quick else args.records
    texts = instructions(n)
    configs = [(64, 0.5), (64, 0.1), (256, 0.5)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for concurrency, latency in configs:
            results.append(measure(concurrency, latency, texts, Path(tmp), naive_n=10))
            print(json.dumps(results[-1]), flush=True)
        ref = measure(64, 0.2, texts[:500], Path(tmp), naive_n=5)
    print("\nconcurrency latency | bare/ceiling stage/ceiling stage/bare | CPU ms/req bare stage ratio | x sequential")
    for r in results:
        print(f"{r['concurrency']:>11} {r['latency_ms']:>5}ms | {r['bare_of_ceiling']:>12} {r['stage_of_ceiling']:>13} "
              f"{r['stage_vs_bare']:>10} | {r['bare_cpu_ms']:>14} {r['stage_cpu_ms']:>5} {r['cpu_ratio']:>5} | "
              f"{r['vs_sequential']:>12}")
    print(f"\n500 requests, 200 ms, concurrency 64 (ideal 1.6 s; distilabel 1.5.3 measured 6.1 s): "
          f"stage {ref['stage_s']} s, bare loop {ref['bare_s']} s")


if __name__ == "__main__":
    main()
