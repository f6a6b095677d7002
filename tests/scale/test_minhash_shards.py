"""Issue 11 item 3: dedup_minhash over shards (signatures per shard, union-find at the driver)
keeps, rejects and counts exactly what one process does."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.conftest import cli

SHARD = 12
VOCAB = [f"w{i}" for i in range(400)]
HANZI = [chr(0x4E00 + i) for i in range(0, 3000, 7)]


def family(rng: random.Random, base: list[str], edits: int, pool: list[str]) -> list[str]:
    text = list(base)
    for _ in range(edits):
        text[rng.randrange(len(text))] = rng.choice(pool)
    return text


def make_records(path: Path, lang: str) -> Path:
    """Families of edited copies scattered over the shards: a record of shard 0 has copies in
    later shards, chains (A~B, B~C, A!~C) cross shards, and some pairs sit near the threshold
    (candidates that `verify` rejects). Answers vary in length and sources vary (keep policies)."""
    rng = random.Random(7)
    pool, size, sep = (VOCAB, 60, " ") if lang == "en" else (HANZI, 50, "")
    texts: list[str] = []
    for _ in range(14):
        base = [rng.choice(pool) for _ in range(size)]
        texts.append(sep.join(base))
        prev = base
        for _ in range(rng.randint(0, 4)):
            prev = family(rng, prev, rng.randint(1, 4), pool)  # a chain of edits, each on the last
            texts.append(sep.join(prev))
    texts += [sep.join(rng.choice(pool) for _ in range(size)) for _ in range(20)]  # singletons
    texts += ["", "!!", "?"]  # no shingles
    first = texts[0]
    rng.shuffle(texts)
    texts.remove(first)
    texts.insert(0, first)  # shard 0 holds a record with copies further on
    texts.insert(3 * SHARD + 2, first)  # an exact copy in shard 3
    with open(path, "w") as fh:
        for i, text in enumerate(texts):
            answer = "ok " * rng.randint(1, 30)
            fh.write(json.dumps({"messages": [{"role": "user", "content": text or "."},
                                              {"role": "assistant", "content": answer}],
                                 "meta": {"source": rng.choice(["a", "b", "c"])}}) + "\n")
    return path


def write_recipe(tmp_path: Path, data: Path, lang: str, keep: str, verify: bool) -> Path:
    shingle = "word" if lang == "en" else "char"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"""
name: mh
engine: {{shard_size: {SHARD}}}
stages:
  - {{id: in, op: ingest, source: messages, path: {data}}}
  - {{id: near, op: dedup_minhash, inputs: [in], field: instruction, shingle: {shingle}, ngram: 3,
      threshold: 0.7, keep: {keep}, priority: [c, a, b], verify: {str(verify).lower()}}}
""")
    return recipe


def files(out: Path) -> dict:
    stats = json.loads((out / "near" / "stats.json").read_text())
    stats.pop("seconds", None)
    return {"data": (out / "near" / "data.jsonl").read_bytes(),
            "rejected": (out / "near" / "rejected.jsonl").read_bytes(), "stats": stats}


def grams(text: str) -> set[str]:
    toks = text.split() if " " in text else list(text)
    return {" ".join(toks[i:i + 3]) for i in range(len(toks) - 2)}


def check_the_input_tests_what_it_should(out: Path) -> None:
    """Clusters cross shards and chain, so the test cannot pass by deciding within a shard."""
    recs = [json.loads(line) for line in (out / "in" / "data.jsonl").open()]
    ids = [r["id"] for r in recs]
    pos = {rid: i for i, rid in enumerate(ids)}
    rejected = [json.loads(line) for line in (out / "near" / "rejected.jsonl").open()]
    kept = {r["record"]["id"]: r["duplicate_of"] for r in rejected}
    assert any(pos[r["record"]["id"]] // SHARD != pos[r["duplicate_of"]] // SHARD for r in rejected)
    assert kept.get(ids[0], ids[0]) == kept.get(ids[3 * SHARD + 2], ids[3 * SHARD + 2])  # shards 0 and 3
    # a chain: two records of one cluster, in different shards, less alike than the threshold
    sets = {r["id"]: grams(r["messages"][0]["content"]) for r in recs}
    clusters: dict[str, list[str]] = {}
    for rid in ids:
        clusters.setdefault(kept.get(rid, rid), []).append(rid)
    assert any(len(sets[a] & sets[b]) < 0.7 * len(sets[a] | sets[b]) and pos[a] // SHARD != pos[b] // SHARD
               for members in clusters.values() for a in members for b in members)


@pytest.mark.parametrize("lang,keep,verify", [
    ("en", "first", False), ("en", "longest", True), ("en", "source_priority", False),
    ("zh", "first", True), ("zh", "longest", False),
])
def test_dedup_minhash_on_workers_writes_what_one_process_writes(tmp_path, lang, keep, verify):
    recipe = write_recipe(tmp_path, make_records(tmp_path / "in.jsonl", lang), lang, keep, verify)
    got = {}
    for name, flags in (("plain", []), ("w1", ["--workers", "1"]), ("w2", ["--workers", "2"])):
        proc = cli("run", str(recipe), "--out", str(tmp_path / name), *flags, check=True)
        got[name] = files(tmp_path / name)
    shards = -(-got["w2"]["stats"]["records_in"] // SHARD)
    assert f"[near] {shards} shards of up to {SHARD} records, 2 workers" in proc.stderr
    assert (tmp_path / "w2" / "near" / "shards" / "reduce.json").exists()
    assert not (tmp_path / "w1" / "near" / "shards").exists()
    assert got["plain"] == got["w1"] == got["w2"]
    stats = got["w2"]["stats"]
    assert stats["clusters"] >= 5 and stats["candidate_pairs"] >= stats["rejected"] > 10
    assert stats["no_shingles"] == (3 if lang == "en" else 0) and any(k.startswith("lsh_bands_") for k in stats)
    if verify:
        assert stats["false_positive_pairs"] > 0
    check_the_input_tests_what_it_should(tmp_path / "w2")


STAGE_FILES = ["done.json", "data.jsonl", "rejected.jsonl", "stats.json"]


def rerun_after_losing(tmp_path: Path, lang: str, keep: str, verify: bool, lost: list[str], before=lambda stage: None):
    """Run with 2 workers, delete the stage files matching `lost` (what a kill at some point
    leaves), run again: the same files. Returns the second run and `before(stage)` of the gap."""
    recipe = write_recipe(tmp_path, make_records(tmp_path / "in.jsonl", lang), lang, keep, verify)
    out = tmp_path / "run"
    cli("run", str(recipe), "--out", str(out), "--workers", "2", check=True)
    want = files(out)
    for pattern in lost:
        for path in (out / "near").glob(pattern):
            path.unlink()
    seen = before(out / "near")
    proc = cli("run", str(recipe), "--out", str(out), "--workers", "2", check=True)
    assert files(out) == want
    return proc, seen


def test_a_map_interrupted_on_one_shard_redoes_only_that_shard(tmp_path):
    # what a driver killed in the map phase leaves: shard 2 mapped in part, no decisions, no output
    lost = STAGE_FILES + ["shards/reduce.json", "shards/*/done.json", "shards/00002/map.json"]
    proc, mapped = rerun_after_losing(tmp_path, "en", "longest", True, lost, lambda stage: {
        p: p.stat().st_mtime_ns for p in stage.glob("shards/*/minhash_*")})
    assert f"[near] 6 shards of up to {SHARD} records, 2 workers" in proc.stderr  # none written before
    redone = {p for p, t in mapped.items() if p.stat().st_mtime_ns != t}
    assert redone and all(p.parent.name == "00002" for p in redone)


def test_an_apply_redone_on_shard_0_counts_the_clusters_once(tmp_path):
    """Shard 0 carries the reduce's counters into the stage's: redoing it must not add them twice."""
    lost = STAGE_FILES + ["shards/00000/done.json", "shards/00004/done.json"]
    proc, _ = rerun_after_losing(tmp_path, "zh", "first", True, lost)
    assert "[near] resuming: 4 of 6 shards are done" in proc.stderr
