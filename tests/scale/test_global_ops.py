"""Issue 11 item 3: dedup_exact over shards (hashed per shard, decided once) keeps what one process keeps."""

from __future__ import annotations

import json
import random

import pytest

from tests.conftest import cli


@pytest.mark.parametrize("keep", ["first", "longest", "source_priority"])
def test_dedup_exact_on_workers_keeps_the_same_records(tmp_path, keep):
    rng = random.Random(3)
    with open(tmp_path / "in.jsonl", "w") as fh:
        for i in range(400):
            q = f"Question number {rng.randrange(120)}"  # groups that span several shards
            a = "word " * rng.randint(1, 9)
            fh.write(json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                                 "meta": {"source": rng.choice(["a", "b", "c"])}}) + "\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"""
name: ex
engine: {{shard_size: 37}}
stages:
  - {{id: in, op: ingest, source: messages, path: {tmp_path / "in.jsonl"}}}
  - {{id: exact, op: dedup_exact, inputs: [in], field: instruction, keep: {keep}, priority: [c, a, b]}}
""")
    files = {}
    for workers in ("1", "2"):
        out = tmp_path / workers
        cli("run", str(recipe), "--out", str(out), "--workers", workers, check=True)
        stats = json.loads((out / "exact" / "stats.json").read_text())
        stats.pop("seconds")
        files[workers] = [(out / "exact" / n).read_bytes() for n in ("data.jsonl", "rejected.jsonl")] + [stats]
    assert files["1"] == files["2"]
    assert files["2"][2]["rejected"] > 200 and (tmp_path / "2" / "exact" / "shards" / "reduce.json").exists()


def test_decontaminate_on_workers_builds_the_index_once_and_rejects_the_same(tmp_path):
    from tests.conftest import FIXTURES

    bench = tmp_path / "benchmarks"
    bench.mkdir()
    for name in ("WizardLM_testset.jsonl", "user_oriented_instructions.jsonl"):
        (bench / name).write_bytes((FIXTURES / "curation" / name).read_bytes())
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"""
name: dc
engine: {{shard_size: 50}}
stages:
  - {{id: in, op: ingest, source: alpaca, path: {FIXTURES / "curation" / "alpaca_slice.json"}}}
  - {{id: d, op: decontaminate, inputs: [in], benchmark: {bench}}}
""")
    files = {}
    for workers in ("1", "2"):
        out = tmp_path / workers
        proc = cli("run", str(recipe), "--out", str(out), "--workers", workers, check=True)
        stats = json.loads((out / "d" / "stats.json").read_text())
        stats.pop("seconds")
        files[workers] = [(out / "d" / n).read_bytes() for n in ("data.jsonl", "rejected.jsonl")] + [stats]
    assert "[d] 6 shards of up to 50 records, 2 workers" in proc.stderr
    assert files["1"] == files["2"]
    assert files["2"][2]["rejected"] == 3 and files["2"][2]["benchmark_ngrams"] > 1000
    assert (tmp_path / "2" / "d" / "shards" / "benchmark_keys.npy").exists()  # built once, memory-mapped by each worker
