"""Scale-out: wall time and peak RSS of stages at 1 and 2 local workers (`run --workers N`).

On a synthetic set (Alpaca instructions and answers with seeded edits, `--records` of them) it
runs, each in a fresh `instructpipe run` and a fresh run folder:

- the curation chain (ingest -> dedup_exact -> dedup_minhash -> filter -> langid), and each
  per-record CPU op on its own (filter, langid) at 1 and 2 workers;
- an LLM stage (`respond`) against the local fake server (tests/fake_openai.py, run as its own
  process) at concurrency 512, in one process and split over 2 workers.

It prints wall seconds, the peak RSS of the largest process (driver or worker), the speed-up
and the machine's load average, and checks that both worker counts wrote the same bytes.

    python bench/scale.py [--records 1000000] [--llm-records 20000]
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


def timed_run(args: list[str], env: dict) -> tuple[float, float]:
    """Wall seconds and the peak RSS (MB) of the largest process of one `instructpipe` command."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "r = subprocess.run(sys.argv[1:]); w = time.perf_counter() - t; "
             "print(r.returncode, w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "pipeline", *args],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    if out[0] != "0":
        raise SystemExit(f"instructpipe {' '.join(args)} failed")
    return float(out[1]), int(out[2]) / 1024


def stage_seconds(run: Path, stage: str) -> float:
    return json.loads((run / stage / "stats.json").read_text()).get("seconds", 0.0)


def compare(tmp: Path, label: str, rec: Path, stages: list[str], env: dict, base: Path | None = None) -> None:
    """One recipe at 1 and 2 workers (the `in` stage shared by both, from `base` when given)."""
    rows = {}
    for workers in (1, 2):
        run = tmp / f"{label}-{workers}"
        if base is not None:
            shutil.copytree(base, run)
        wall, rss = timed_run(["run", str(rec), "--out", str(run), "--workers", str(workers)], env)
        rows[workers] = (wall, rss, {s: stage_seconds(run, s) for s in stages})
    for s in stages:
        same = all((tmp / f"{label}-1" / s / f).read_bytes() == (tmp / f"{label}-2" / s / f).read_bytes()
                   for f in ("data.jsonl", "rejected.jsonl"))
        t1, t2 = rows[1][2][s], rows[2][2][s]
        print(f"  {label:<14} {s:<8} 1 worker {t1:8.1f}s  2 workers {t2:8.1f}s  speed-up "
              f"{t1 / t2 if t2 else 0:4.2f}x  same bytes: {same}")
    print(f"  {label:<14} whole run: 1 worker {rows[1][0]:.1f}s, peak RSS {rows[1][1]:.0f} MB; "
          f"2 workers {rows[2][0]:.1f}s, peak RSS {rows[2][1]:.0f} MB  (load {os.getloadavg()[0]:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--llm-records", type=int, default=20_000)
    a = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENAI_API_KEY="sk-bench-0000")
    print(f"scale bench: {a.records} records, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as t:
        tmp = Path(t)
        data = tmp / "set.jsonl"
        make_set(data, a.records)
        base = tmp / "base"
        subprocess.run([sys.executable, "-m", "pipeline", "run", str(recipe(tmp, data, [])), "--out", str(base)],
                       env=env, check=True, capture_output=True)
        compare(tmp, "chain", recipe(tmp, data, ["exact", "near", "filter", "lang"]),
                ["exact", "near", "filter", "lang"], env, base)
        for op in ("filter", "lang"):
            compare(tmp, op, recipe(tmp, data, [op]), [op], env, base)
        llm_data = tmp / "open.jsonl"
        make_set(llm_data, a.llm_records, open_records=True)
        server = subprocess.Popen([sys.executable, "-m", "tests.fake_openai"], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            port = int(server.stdout.readline())
            rec = recipe(tmp, llm_data, ["answer"], f"http://127.0.0.1:{port}/v1")
            compare(tmp, "respond@512", rec, ["answer"], env)
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
