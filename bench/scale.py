"""Scale-out: wall time and peak RSS per worker of stages at 1 and 2 workers, processes and Ray.

On a synthetic set (Alpaca instructions and answers with seeded edits, `--records` of them) it
runs, each in a fresh `instructpipe run` and a fresh run folder (the ingest shared):

- the curation chain (dedup_exact -> dedup_minhash -> filter -> langid) in one process, in 2
  worker processes, and (with `--ray`) as Ray tasks on a local Ray with 2 workers; each op's
  figures are its stage's within the chain (`--alone` also runs filter and langid on their own);
- an LLM stage (`respond`) at concurrency 512 against bench/fast_openai.py (its own process, a
  few tens of microseconds a request, so the client is what is measured), the same three ways.

It prints each stage's seconds, the peak RSS of its largest worker (from the shards' stats; the
driver's for a stage run in one piece), the speed-up against one process, the load average, and
whether every engine wrote the same bytes (it must).

    python bench/scale.py [--records 1000000] [--llm-records 20000] [--ray] [--alone]

Ray binds to the machine's outside address unless it has none: where outside traffic is not
allowed, run the whole benchmark in a loopback-only network namespace (as root):
`unshare -n -p -f --mount-proc bash -c 'ip link set lo up; RAY_AUTH_MODE=disabled python bench/scale.py --ray'`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALPACA = Path("/work/shared/data/alpaca/alpaca_data.json")
SAMPLE = ROOT / "sources" / "samples" / "alpaca_sample.json"
EDITS = ("drop", "repeat", "swap", "append", "case")


def edited(text: str, rng: random.Random) -> str:
    """A seeded small edit of `text` (so the set has near and exact duplicates, not only copies)."""
    words = text.split()
    if len(words) < 3:
        return text
    kind, i = rng.choice(EDITS), rng.randrange(len(words) - 1)
    if kind == "drop":
        del words[i]
    elif kind == "repeat":
        words.insert(i, words[i])
    elif kind == "swap":
        words[i], words[i + 1] = words[i + 1], words[i]
    elif kind == "append":
        words.append(rng.choice(words))
    else:
        return text.upper() if rng.random() < 0.5 else text.lower()
    return " ".join(words)


def make_set(path: Path, n: int, open_records: bool = False) -> None:
    rows = json.loads((ALPACA if ALPACA.exists() else SAMPLE).read_text())
    rng = random.Random(7)
    with open(path, "w") as fh:
        for i in range(n):
            row = rows[i % len(rows)]
            q = " ".join(x for x in (row["instruction"], row.get("input", "")) if x)
            a = row["output"] or "(empty)"
            if i >= len(rows):  # beyond one pass: a seeded edit, one in ten left an exact copy
                q = edited(q, rng) if rng.random() < 0.9 else q
            msgs = [{"role": "user", "content": q}] + ([] if open_records else [{"role": "assistant", "content": a}])
            fh.write(json.dumps({"messages": msgs}) + "\n")


def recipe(folder: Path, data: Path, stages: list[str], base_url: str = "") -> Path:
    chain = {"in": f"{{id: in, op: ingest, source: messages, path: {data}}}",
             "exact": "{id: exact, op: dedup_exact, inputs: [in], field: instruction}",
             "near": "{id: near, op: dedup_minhash, inputs: [exact], field: instruction}",
             "filter": "{id: filter, op: filter, inputs: [PREV], min_words: 3, placeholders: true}",
             "lang": "{id: lang, op: langid, inputs: [PREV], expect_lang: [en]}",
             "answer": "{id: answer, op: respond, inputs: [PREV]}"}
    lines, prev = [], "in"
    for st in ["in"] + stages:
        lines.append("  - " + chain[st].replace("PREV", prev))
        prev = st
    llm = f'llm: {{model: bench, base_url: "{base_url}", concurrency: 512}}\n' if base_url else ""
    path = folder / f"r{abs(hash((tuple(stages), base_url)))}.yaml"
    path.write_text(f"name: bench\n{llm}stages:\n" + "\n".join(lines) + "\n")
    return path


def timed_run(args: list[str], env: dict) -> tuple[float, float, float]:
    """Wall seconds, the peak RSS (MB) of the largest local process, and the cores it kept busy
    (CPU seconds / wall seconds: near 1.0 in one process means CPU-bound) of one command."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "r = subprocess.run(sys.argv[1:]); w = time.perf_counter() - t; "
             "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
             "print(r.returncode, w, u.ru_maxrss, u.ru_utime + u.ru_stime)")
    out = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "pipeline", *args],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    if out[0] != "0":
        raise SystemExit(f"instructpipe {' '.join(args)} failed")
    return float(out[1]), int(out[2]) / 1024, float(out[3]) / float(out[1])


def stage_figures(run: Path, stage: str, driver_rss: float) -> tuple[float, float]:
    """A stage's seconds and the peak RSS of its largest worker (the driver's when not sharded)."""
    seconds = json.loads((run / stage / "stats.json").read_text()).get("seconds", 0.0)
    shards = sorted((run / stage / "shards").glob("[0-9]*/stats.json"))
    rss = max((json.loads(p.read_text()).get("peak_rss_mb", 0.0) for p in shards), default=driver_rss)
    return seconds, rss


ENGINES = {"1 process": [], "2 processes": ["--workers", "2"], "Ray, 2 workers": ["--engine", "ray", "--workers", "2"]}


def compare(tmp: Path, label: str, rec: Path, stages: list[str], env: dict, engines: list[str],
            base: Path | None = None) -> None:
    """One recipe on each engine (the `in` stage copied from `base` when given)."""
    rows = {}
    for engine in engines:
        run = tmp / f"{label}-{engines.index(engine)}"
        if base is not None:
            shutil.copytree(base, run)
        wall, rss, cores = timed_run(["run", str(rec), "--out", str(run), *ENGINES[engine]], env)
        rows[engine] = (wall, cores, {s: stage_figures(run, s, rss) for s in stages})
    one = rows[engines[0]]
    for s in stages:
        same = all((tmp / f"{label}-0" / s / f).read_bytes() == (tmp / f"{label}-{k}" / s / f).read_bytes()
                   for f in ("data.jsonl", "rejected.jsonl") for k in range(1, len(engines)))
        cells = [f"{e} {rows[e][2][s][0]:7.1f}s {rows[e][2][s][1]:5.0f} MB"
                 + ("" if e == engines[0] else f" {one[2][s][0] / max(rows[e][2][s][0], 1e-9):4.2f}x")
                 for e in engines]
        print(f"  {label:<12} {s:<7} " + " | ".join(cells) + f"  same bytes: {same}")
    # Ray's workers are not this command's child processes: their CPU time is not in its figure
    print(f"  {label:<12} whole run: " + " | ".join(
        f"{e} {rows[e][0]:.1f}s" + ("" if "Ray" in e else f" ({rows[e][1]:.2f} cores busy)") for e in engines)
          + f"  (load {os.getloadavg()[0]:.1f})", flush=True)


def llm_server(env: dict) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fast_openai.py")], env=env, text=True,
                              stdout=subprocess.PIPE)
    return server, f"http://127.0.0.1:{int(server.stdout.readline())}/v1"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--llm-records", type=int, default=20_000)
    ap.add_argument("--ray", action="store_true", help="also run on a local Ray (see the docstring)")
    ap.add_argument("--alone", action="store_true", help="also run filter and langid each on its own")
    a = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENAI_API_KEY="sk-bench-0000", RAY_USAGE_STATS_ENABLED="0")
    engines = list(ENGINES)[:3 if a.ray else 2]
    print(f"scale bench: {a.records} records, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as t:
        tmp = Path(t)
        data = tmp / "set.jsonl"
        make_set(data, a.records)
        base = tmp / "base"
        subprocess.run([sys.executable, "-m", "pipeline", "run", str(recipe(tmp, data, [])), "--out", str(base)],
                       env=env, check=True, capture_output=True)
        compare(tmp, "chain", recipe(tmp, data, ["exact", "near", "filter", "lang"]),
                ["exact", "near", "filter", "lang"], env, engines, base)
        for op in ("filter", "lang") if a.alone else ():
            compare(tmp, op, recipe(tmp, data, [op]), [op], env, engines, base)
        llm_data = tmp / "open.jsonl"
        make_set(llm_data, a.llm_records, open_records=True)
        server, url = llm_server(env)
        try:
            compare(tmp, "respond@512", recipe(tmp, llm_data, ["answer"], url), ["answer"], env, engines)
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
