"""Dedup benchmark: exact and near-duplicate counts on Alpaca-52K, `dedup_minhash` against a
straightforward datasketch MinHashLSH pass in the same run (same clusters? how much faster?),
and `dedup_minhash` on a synthetic 1,000,000-record set (wall time and peak RSS).

    python bench/dedup.py [--alpaca PATH] [--synthetic 1000000] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.adapters.alpaca import NOINPUT  # noqa: E402
from pipeline.adapters.base import user_text  # noqa: E402
from pipeline.dedup.minhash import hash_function, permutations  # noqa: E402
from pipeline.dedup.text import plain_text, shingles  # noqa: E402
from pipeline.jsonl import JsonlAppender, read_json_array  # noqa: E402
from pipeline.ops import dedup_exact, dedup_minhash  # noqa: E402
from pipeline.ops.base import StageContext, StageInput  # noqa: E402
from pipeline.record import Record, Rejected  # noqa: E402

ALPACA = Path("/work/shared/data/alpaca/alpaca_data.json")


def alpaca_records(path: Path) -> list[Record]:
    out = []
    for _, row in read_json_array(path):
        extra = "" if NOINPUT.match(row["input"]) else row["input"]
        msgs = [{"role": "user", "content": user_text(row["instruction"], extra)}]
        if row["output"].strip():
            msgs.append({"role": "assistant", "content": row["output"].strip()})
        out.append(Record.new(msgs, {"source": "alpaca"}))
    return out


def write_records(records, path: Path) -> int:
    n = 0
    with JsonlAppender(path) as out:
        for rec in records:
            out.write(rec.to_json())
            n += 1
    return n


def run_op(spec, params: dict, inp: StageInput, work: Path, out_dir: Path | None = None):
    """Run an op as the runner does; return (seconds, kept, rejected items, counters)."""
    ctx = StageContext("bench", spec.name, work, work)
    p = spec.params(**params)
    kept, rejected = 0, []
    start = time.perf_counter()
    sink = JsonlAppender(out_dir / "data.jsonl") if out_dir else None
    rej_sink = JsonlAppender(out_dir / "rejected.jsonl") if out_dir else None
    for item in spec.fn(ctx, [inp], p):
        if isinstance(item, Rejected):
            ctx.count(item.counter)
            rejected.append((item.record.id, item.extra.get("duplicate_of")) if not out_dir else None)
            if rej_sink:
                rej_sink.write(item.to_json())
        else:
            kept += 1
            if sink:
                sink.write(item.to_json())
    for s in (sink, rej_sink):
        if s:
            s.close()
    return time.perf_counter() - start, kept, rejected, dict(ctx.counters)


def clusters_from_rejects(pairs) -> set[frozenset]:
    groups: dict[str, set] = {}
    for rid, rep in pairs:
        groups.setdefault(rep, {rep}).add(rid)
    return {frozenset(g) for g in groups.values()}


def datasketch_pass(inp: StageInput, p) -> tuple[float, set[frozenset]]:
    """The plain way: one datasketch MinHash per record, a MinHashLSH index, query every record,
    union the results. Permutations are shared (created once), which only helps datasketch."""
    from datasketch import MinHash, MinHashLSH

    start = time.perf_counter()
    hf = hash_function(p.hashfunc)
    perm = permutations(p.num_perm, p.seed)
    lsh = MinHashLSH(threshold=p.threshold, num_perm=p.num_perm)
    ids, sketches = [], []
    with lsh.insertion_session() as session:
        for i, rec in enumerate(inp):
            ids.append(rec.id)
            sh = shingles(plain_text(rec, p.field), p.ngram, p.shingle)
            if not sh:
                continue
            m = MinHash(num_perm=p.num_perm, seed=p.seed, hashfunc=hf, permutations=perm, scheme="affine32")
            m.update_batch(sh)
            session.insert(i, m)
            sketches.append((i, m))
    parent = list(range(len(ids)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, m in sketches:
        for j in lsh.query(m):
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, set] = {}
    for i in range(len(ids)):
        groups.setdefault(find(i), set()).add(ids[i])
    seconds = time.perf_counter() - start
    return seconds, {frozenset(g) for g in groups.values() if len(g) > 1}


def minhash_clusters(inp: StageInput, params: dict, work: Path) -> tuple[float, set[frozenset]]:
    """dedup_minhash's clustering alone (pass 1 and union-find), as the datasketch pass does."""
    p = dedup_minhash.SPEC.params(**params)
    ctx = StageContext("bench", "dedup_minhash", work, work)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        index = dedup_minhash.build_index([inp], p, Path(tmp))
        rep, _ = dedup_minhash.clusters(ctx, index, p)
    seconds = time.perf_counter() - start
    ids = [rec.id for rec in inp]
    groups: dict[int, set] = {}
    for i, r in enumerate(rep.tolist()):
        groups.setdefault(r, set()).add(ids[i])
    return seconds, {frozenset(g) for g in groups.values() if len(g) > 1}


def alpaca_section(path: Path, work: Path, repeat: int) -> None:
    records = alpaca_records(path)
    data = work / "alpaca.jsonl"
    inp = StageInput("alpaca", data, write_records(records, data))
    print(f"## Alpaca ({inp.count:,} records from {path.name})\n")
    for field in ("conversation", "instruction"):
        secs, kept, rej, _ = run_op(dedup_exact.SPEC, {"field": field}, inp, work)
        print(f"dedup_exact field={field}: {len(rej)} exact duplicates, {kept:,} kept, {secs:.2f} s")
    p = dedup_minhash.SPEC.params()
    op_secs, kept, rej, counters = run_op(dedup_minhash.SPEC, {}, inp, work)
    ours = clusters_from_rejects(rej)
    bands = next(k for k in counters if k.startswith("lsh_bands_"))
    print(f"\ndedup_minhash defaults (field={p.field}, {p.shingle} {p.ngram}-gram shingles, num_perm={p.num_perm}, "
          f"threshold={p.threshold}, {bands}, hash {p.hashfunc}):")
    print(f"  {len(rej)} near-duplicates removed in {len(ours)} clusters, {kept:,} kept; "
          f"whole op (both passes, output written) {op_secs:.2f} s")
    times: dict[str, list[float]] = {"datasketch": [], "workers=1": [], "workers=auto": []}
    for _ in range(repeat):  # interleaved, best of `repeat`: the machine may be shared
        secs, theirs = datasketch_pass(inp, p)
        times["datasketch"].append(secs)
        for label, params in (("workers=1", {"workers": 1}), ("workers=auto", {})):
            secs, mine = minhash_clusters(inp, params, work)
            times[label].append(secs)
            if mine != theirs or mine != ours:
                sys.exit(f"dedup_minhash ({label}) and datasketch disagree on the clusters")
    best = {k: min(v) for k, v in times.items()}
    print(f"datasketch MinHash + MinHashLSH, same settings: {len(theirs)} clusters, "
          f"{sum(len(c) - 1 for c in theirs)} near-duplicates; same clusters as dedup_minhash: True")
    print(f"clustering time, best of {repeat} (read, shingle, hash, LSH, union-find):")
    for label in ("datasketch", "workers=1", "workers=auto"):
        ratio = best["datasketch"] / best[label]
        print(f"  {label:13s} {best[label]:6.2f} s   {ratio:4.2f}x vs datasketch   (runs: "
              + ", ".join(f"{t:.2f}" for t in times[label]) + ")")
    verify_secs, _, vrej, vc = run_op(dedup_minhash.SPEC, {"verify": True}, inp, work)
    print(f"dedup_minhash verify=true: {len(vrej)} near-duplicates, "
          f"{vc.get('false_positive_pairs', 0)} candidate pairs below the threshold, {verify_secs:.2f} s")
    for c in sorted(ours, key=lambda c: (-len(c), sorted(c)))[:3]:
        by_id = {r.id: r for r in records if r.id in c}
        print("  e.g. " + " | ".join(repr(by_id[i].instruction[:50]) for i in sorted(c)))


def perturb(text: str, rng: random.Random, vocab: list[str]) -> str:
    words = text.split()
    for _ in range(rng.randint(1, 3)):
        if not words:
            break
        k = rng.randrange(len(words))
        edit = rng.randrange(4)
        if edit == 0 and len(words) > 1:
            del words[k]
        elif edit == 1:
            words.insert(k, rng.choice(vocab))
        elif edit == 2:
            words[k] = rng.choice(vocab)
        elif k + 1 < len(words):
            words[k], words[k + 1] = words[k + 1], words[k]
    return " ".join(words)


def synthetic(path: Path, n: int, seed: int = 0):
    """The Alpaca records, then seeded perturbed copies (1-3 word edits of the answer)."""
    base = alpaca_records(ALPACA)
    rng = random.Random(seed)
    vocab = [w for r in base[:2000] for w in r.response.split()]

    def gen():
        for i in range(n):
            if i < len(base):
                yield base[i]
                continue
            src = base[rng.randrange(len(base))]
            msgs = [dict(m) for m in src.messages]
            msgs[-1]["content"] = perturb(msgs[-1]["content"], rng, vocab) or "ok"
            yield Record.new(msgs, {"source": "synthetic", "copy_of": src.id})

    return write_records(gen(), path)


def peak_rss() -> int:
    """This process's peak RSS in bytes: VmHWM, since ru_maxrss keeps the parent's figure across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def synthetic_child(path: str, count: int, work: str) -> None:
    """Run in a fresh process so its peak RSS is the op's own."""
    inp = StageInput("synthetic", Path(path), count)
    out = Path(work) / "out"
    out.mkdir(exist_ok=True)
    secs, kept, _, counters = run_op(dedup_minhash.SPEC, {}, inp, Path(work), out_dir=out)
    rss = peak_rss()
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(json.dumps({"seconds": secs, "kept": kept, "counters": counters, "peak_rss": rss,
                      "worker_peak_rss": workers}))


def synthetic_section(n: int, work: Path) -> None:
    path = work / "synthetic.jsonl"
    start = time.perf_counter()
    count = synthetic(path, n)
    print(f"\n## Synthetic set: {count:,} records ({path.stat().st_size / 1e6:.0f} MB JSONL, "
          f"made in {time.perf_counter() - start:.0f} s)\n")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", str(path), str(count), str(work)],
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    c = res["counters"]
    print(f"dedup_minhash (defaults): {c.get('dropped_near_duplicate', 0):,} near-duplicates removed "
          f"in {c.get('clusters', 0):,} clusters, {res['kept']:,} kept")
    print(f"  op time {res['seconds']:.1f} s (process wall {wall:.1f} s, "
          f"{count / res['seconds']:,.0f} records/s)")
    print(f"  peak RSS {res['peak_rss'] / 2**20:.0f} MiB (main process; "
          f"each hashing worker at most {res['worker_peak_rss'] / 2**20:.0f} MiB)")
    copies = count - 52002
    print(f"  removed {c.get('dropped_near_duplicate', 0) / copies:.1%} as many records as there are "
          f"perturbed copies ({copies:,}; 1-3 word edits each, so short answers fall under the threshold)")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        synthetic_child(*sys.argv[2:3], int(sys.argv[3]), sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alpaca", type=Path, default=ALPACA)
    ap.add_argument("--synthetic", type=int, default=1_000_000, help="records (0 to skip)")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp folder)")
    ap.add_argument("--repeat", type=int, default=3, help="timing runs of each Alpaca clustering (best counts)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dedup-", dir=args.work) as tmp:
        alpaca_section(args.alpaca, Path(tmp), args.repeat)
        if args.synthetic:
            synthetic_section(args.synthetic, Path(tmp))


if __name__ == "__main__":
    main()
