"""How fast the review page opens, pages and searches a 1,000,000-record stage.

Writes (or reuses) a run folder with one stage of N synthetic records (varied instructions and
answers, sources, languages, a `judge` score; a rare word in 1 record of 10,000) and a second stage
of rejected records, then times in process, as the server does:
  - the first open: the offset index built and saved beside the stage file (once);
  - a later open: the index loaded from disk (a fresh store, as after a server restart);
  - pages of 50 at the start, the middle and the end of the stage (best of 5);
  - a filter on `meta.source` and a score range, sort by score;
  - full-text search for a rare and for a common word (first page; then the next page, cached);
  - one page through a real `instructpipe review` server (HTTP round trip included).

    python bench/review_speed.py [--records N] [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.review.query import Query, _SEARCH_CACHE  # noqa: E402
from pipeline.review.store import ReviewStore  # noqa: E402

WORDS = ("explain describe write list compare summarise translate classify rewrite give name why how "
         "river mountain economy poem recipe algorithm history planet language music energy city garden "
         "quickly carefully briefly simple detailed friendly formal short long").split()


def make_run(root: Path, n: int) -> None:
    rng = random.Random(7)
    stage = root / "big"
    stage.mkdir(parents=True, exist_ok=True)
    with open(stage / "data.jsonl", "wb") as fh:
        for i in range(n):
            q = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16)))
            if i % 10_000 == 5:
                q += " zanzibarite"
            a = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 40)))
            rec = {"id": f"{i:016x}", "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                   "meta": {"source": f"src{i % 7}", "lang": "en" if i % 5 else "de", "stage": "big",
                            "scores": {"judge": round(rng.uniform(0, 5), 1)}}}
            fh.write(orjson.dumps(rec) + b"\n")
    stats = {"id": "big", "op": "ingest", "state": "done", "records_in": n, "records_out": n, "rejected": 0}
    (stage / "stats.json").write_text(json.dumps(stats))
    (stage / "done.json").write_text(json.dumps({"fingerprint": "bench"}))
    manifest = {"name": "review_bench", "stages": {"big": {"op": "ingest", "fingerprint": "bench", "inputs": []}}}
    (root / "manifest.json").write_text(json.dumps(manifest))


def best(fn, repeat: int = 5) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def http_page(run: Path, n: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "review", str(run)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        base = proc.stdout.readline().rsplit(" at ", 1)[1].strip().rstrip("/")
        url = f"{base}/api/stages/big/records?kind=kept&offset={n // 2}&limit=50"
        urllib.request.urlopen(url).read()  # the server's first open of the (saved) index
        t, _ = best(lambda: urllib.request.urlopen(url).read())
        return t
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--run-dir", type=Path, default=Path(tempfile.gettempdir()) / "instructpipe-review-bench")
    args = ap.parse_args()
    run, n = args.run_dir, args.records
    data = run / "big" / "data.jsonl"
    if not data.exists() or sum(1 for _ in open(data, "rb")) != n:
        t = time.perf_counter()
        make_run(run, n)
        print(f"wrote {n:,} records ({data.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
    for old in (run / "big" / ".review").glob("*"):
        old.unlink()
    rows = []
    t = time.perf_counter()
    ReviewStore(run).records("big", Query(), 0, 50)
    rows.append(("first open (index built and saved)", time.perf_counter() - t))
    t = time.perf_counter()
    store = ReviewStore(run)
    store.records("big", Query(), 0, 50)
    rows.append(("open with the saved index + first page", time.perf_counter() - t))
    for at in (0, n // 2, n - 50):
        rows.append((f"page of 50 at offset {at:,}", best(lambda: store.records("big", Query(), at, 50))[0]))
    q = Query(facets=(("source", "src3"),), ranges=(("judge", 2.0, 4.0),), sort="judge")
    sec, page = best(lambda: store.records("big", q, 1000, 50))
    rows.append((f"source + score range + sort by score ({page['total']:,} match), page at 1,000", sec))
    for word in ("zanzibarite", "mountain river"):
        _SEARCH_CACHE.clear()
        t = time.perf_counter()
        page = store.records("big", Query(q=word), 0, 50)
        rows.append((f"search {word!r} ({page['total']:,} match), first page", time.perf_counter() - t))
        rows.append((f"search {word!r}, next page (cached)", best(lambda: store.records("big", Query(q=word), 50, 50))[0]))
    rows.append((f"HTTP: page at {n // 2:,} through `instructpipe review`", http_page(run, n)))
    idx = sum(p.stat().st_size for p in (run / "big" / ".review").glob("*"))
    print(f"\n{n:,} records, {data.stat().st_size / 1e6:.0f} MB stage file, index {idx / 1e6:.0f} MB\n")
    print("| what | seconds |\n|---|---|")
    for label, sec in rows:
        print(f"| {label} | {sec:.4f} |")


if __name__ == "__main__":
    main()
