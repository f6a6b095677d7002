"""dedup_minhash on real data: Alpaca near-duplicate clusters, agreement with datasketch,
Chinese character shingles, verification, keep policies, worker processes."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.dedup import minhash as mh
from pipeline.dedup.text import plain_text, shingles
from pipeline.ops import dedup_minhash as dm
from pipeline.ops.base import StageContext, StageInput
from pipeline.record import Record, Rejected

datasketch = pytest.importorskip("datasketch", reason="datasketch (dev extra) checks compatibility")

# The near-duplicate clusters of the full Alpaca-52K at the defaults; the slice holds all 18 members.
ALPACA_CLUSTER_SIZES = [2, 2, 2, 2, 2, 3, 5]


def clusters(rejected: list[dict]) -> list[set]:
    groups: dict[str, set] = {}
    for x in rejected:
        groups.setdefault(x["duplicate_of"], {x["duplicate_of"]}).add(x["record"]["id"])
    return sorted(groups.values(), key=lambda g: (len(g), sorted(g)))


def test_alpaca_near_duplicates(run_stages, ingest):
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "near", "op": "dedup_minhash", "inputs": ["alpaca"]})
    stats = r.stats("near")
    assert (stats["records_in"], stats["records_out"], stats["rejected"]) == (284, 273, 11)
    assert stats["clusters"] == 7 and stats["lsh_bands_14_rows_9"] == 1
    rejected = r.rejected("near")
    assert {x["reason"] for x in rejected} == {"near_duplicate"}
    assert sorted(len(c) for c in clusters(rejected)) == ALPACA_CLUSTER_SIZES
    kept = {k["id"] for k in r.records("near")}
    assert all(x["duplicate_of"] in kept and x["record"]["meta"]["duplicate_of"] == x["duplicate_of"]
               for x in rejected)
    colours = [x for x in rejected if "primary colors" in x["record"]["messages"][0]["content"]]
    assert len(colours) == 2 and colours[0]["cluster_size"] == 3


def datasketch_clusters(records: list[Record], p: dm.DedupMinhashParams) -> list[set]:
    """The straightforward datasketch pass: MinHash per record, MinHashLSH, query, union."""
    lsh = datasketch.MinHashLSH(threshold=p.threshold, num_perm=p.num_perm)
    sketches = {}
    for rec in records:
        m = datasketch.MinHash(num_perm=p.num_perm, hashfunc=mh.hash_function(p.hashfunc))
        m.update_batch(shingles(plain_text(rec, p.field), p.ngram, p.shingle))
        lsh.insert(rec.id, m)
        sketches[rec.id] = m
    parent = {i: i for i in sketches}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for i, m in sketches.items():
        for j in lsh.query(m):
            parent[find(j)] = find(i)
    groups: dict[str, set] = {}
    for i in sketches:
        groups.setdefault(find(i), set()).add(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (len(g), sorted(g)))


@pytest.mark.parametrize("params,n_clusters", [
    ({}, 7), ({"hashfunc": "sha1", "threshold": 0.5, "num_perm": 64}, 7),
    ({"field": "instruction", "ngram": 3, "threshold": 0.6}, 1)])
def test_same_clusters_as_datasketch(run_stages, params, n_clusters, ingest):
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "near", "op": "dedup_minhash", "inputs": ["alpaca"], **params})
    records = [Record(x["id"], x["messages"], x["meta"]) for x in r.records("alpaca")]
    ours = clusters(r.rejected("near"))
    assert ours == datasketch_clusters(records, dm.DedupMinhashParams(**params))
    assert len(ours) == n_clusters


def test_signatures_and_lsh_parameters_match_datasketch():
    texts = ["Name the colors of the rainbow.", "天下没有不散的筵席，那么我们相聚的意义又是什么", "ok"]
    for name in ("xxh32", "sha1"):
        hf = mh.hash_function(name)
        hashes = [np.array([hf(s) for s in shingles(t, 5)], dtype=np.uint32) for t in texts]
        sig = mh.signatures(np.concatenate(hashes), np.array([len(h) for h in hashes]), 128)
        for t, row in zip(texts, sig):
            m = datasketch.MinHash(num_perm=128, hashfunc=hf)
            m.update_batch(shingles(t, 5))
            assert np.array_equal(m.hashvalues, row)
    from datasketch.lsh import _optimal_param
    for threshold in (0.5, 0.7, 0.8, 0.9):
        for num_perm in (32, 128, 256):
            assert mh.lsh_params(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


def edited(text: str, k: int) -> str:
    """Change one character in the middle and make the full-width commas ASCII."""
    mid = len(text) // 2
    return (text[:mid] + "之" + text[mid + 1:]).replace("，", ",") if k % 2 else text[:mid] + text[mid + 1:]


def test_chinese_character_shingles(run_stages, rows, write_jsonl, ingest):
    src = rows("coig_ruozhiba.jsonl")[:40]
    write_jsonl("edited.jsonl", [dict(x, output=edited(x["output"], k)) for k, x in enumerate(src)])
    stages = [ingest("coig", "coig_ruozhiba.jsonl"),
              {"id": "edited", "op": "ingest", "source": "alpaca", "path": "edited.jsonl", "label": "edited"}]
    r = run_stages(*stages, {"id": "near", "op": "dedup_minhash", "inputs": ["coig", "edited"]})
    assert r.reasons("near") == {"near_duplicate": 39}
    assert {x["record"]["meta"]["source"] for x in r.rejected("near")} == {"edited"}
    # whole "words" of Chinese are entire clauses: one edit changes most of them, so few are found
    r = run_stages(*stages, {"id": "near", "op": "dedup_minhash", "inputs": ["coig", "edited"],
                             "shingle": "word"}, out="word")
    assert r.reasons("near") == {"near_duplicate": 9}


def test_verify_drops_candidate_pairs_under_the_threshold(run_stages, ingest, tmp_path):
    stale = tmp_path / "run" / "near" / ".minhash-killed"  # left by an attempt that was killed
    stale.mkdir(parents=True)
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "near", "op": "dedup_minhash", "inputs": ["alpaca"], "verify": True})
    stats = r.stats("near")
    assert stats["rejected"] == 7 and stats["false_positive_pairs"] == 7
    assert not list((r.root / "near").glob(".minhash-*")), "spill files (and stale ones) are removed"


def test_source_priority_across_inputs(run_stages, ingest):
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   ingest("alpagasus", "alpagasus_slice.json", label="alpagasus"),
                   {"id": "near", "op": "dedup_minhash", "inputs": ["alpaca", "alpagasus"],
                    "keep": "source_priority", "priority": ["alpagasus"]})
    assert r.reasons("near") == {"near_duplicate": 61}
    by_source = [x["record"]["meta"]["source"] for x in r.rejected("near")]
    assert by_source.count("alpaca") == 61


def test_worker_processes_give_the_same_result(monkeypatch, tmp_path, fixtures):
    from pipeline.jsonl import read_json_array

    recs = []
    for _, row in read_json_array(fixtures / "alpaca_slice.json"):
        user = row["instruction"] + ("\n\n" + row["input"] if row["input"] else "")
        recs.append(Record.new([{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]))
    path = tmp_path / "in.jsonl"
    path.write_text("".join(r.to_json() + "\n" for r in recs), encoding="utf-8")
    monkeypatch.setattr(dm, "PARALLEL_MIN", 0)
    monkeypatch.setattr(dm, "BATCH", 50)

    def run(workers: int) -> list:
        ctx = StageContext("s", "dedup_minhash", tmp_path, tmp_path)
        out = dm.run(ctx, [StageInput("in", path, len(recs))], dm.DedupMinhashParams(workers=workers, verify=True))
        return [(x.reason, x.extra) if isinstance(x, Rejected) else x.id for x in out]

    single, pooled = run(1), run(2)
    assert single == pooled and sum(isinstance(x, tuple) for x in single) == 7


def test_records_without_words_are_kept(run_stages, write_jsonl):
    write_jsonl("punct.jsonl", [{"instruction": "?!", "input": "", "output": "..."},
                                {"instruction": "?!", "input": "", "output": "…"}])
    r = run_stages({"id": "p", "op": "ingest", "source": "alpaca", "path": "punct.jsonl"},
                   {"id": "near", "op": "dedup_minhash", "inputs": ["p"]})
    assert r.stats("near")["records_out"] == 2 and r.stats("near")["no_shingles"] == 2


def test_bad_parameters_are_config_errors(run_stages, ingest):
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match=r"stages\[1\]\.threshold"):
        run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "near", "op": "dedup_minhash", "inputs": ["alpaca"], "threshold": 1.5})
    with pytest.raises(ConfigError, match="priority"):
        run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "near", "op": "dedup_minhash", "inputs": ["alpaca"], "keep": "source_priority"})


def test_union_find_merges_chains():
    labels = mh.components(np.arange(6), np.array([4, 2, 5]), np.array([5, 4, 1]))
    assert labels.tolist() == [0, 1, 1, 3, 1, 1]
    # continuing from earlier labels (a later batch of edges) joins the groups across calls
    assert mh.components(labels, np.array([3]), np.array([5])).tolist() == [0, 1, 1, 1, 1, 1]
    # a chain whose edges arrive from its far end needs several rounds: every node ends at the root
    n = 64
    chain = mh.components(np.arange(n), np.arange(n - 1, 0, -1), np.arange(n - 2, -1, -1))
    assert chain.tolist() == [0] * n
