"""Issue 11 item 1: dedup_semantic with a model embedder (a tiny causal LM, `clm:`) over shards:
shards of whole 1,024-record blocks, so the model's padded batches and the decisions are one
process's; skipped without torch and transformers."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch", reason="the embed extra (torch, transformers) is not installed")
pytest.importorskip("transformers", reason="the embed extra (torch, transformers) is not installed")

from tests.conftest import FIXTURES  # noqa: E402
from tests.curation.test_dedup_minhash import edited  # noqa: E402
from tests.curation.test_ifd import tiny_model  # noqa: E402,F401  (the fixture: a tiny GPT-2 built here)
from tests.scale.test_more_shards import run_both, sharded  # noqa: E402


@pytest.mark.slow
def test_dedup_semantic_with_a_model_aligns_its_shards_to_the_batches(tmp_path, tiny_model):  # noqa: F811
    rows = json.loads((FIXTURES / "curation" / "alpaca_slice.json").read_text())
    path = tmp_path / "rows.jsonl"
    with open(path, "w") as fh:  # 1,420 records of very different lengths: padding matters
        for k in range(5):
            for row in rows:
                fh.write(json.dumps(dict(row, instruction=edited(row["instruction"], k) if k else row["instruction"])) + "\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: emb\nengine: {{shard_size: 300}}\nstages:\n"
                      f"  - {{id: in, op: ingest, source: alpaca, path: {path}}}\n"
                      f"  - {{id: sem, op: dedup_semantic, inputs: [in], embedder: 'clm:{tiny_model}', "
                      "field: instruction, embed_batch: 16, threshold: 0.999}\n")
    files = run_both(tmp_path, recipe, "sem")
    assert files["1"] == files["2"]
    plan = sharded(tmp_path, "sem")
    assert plan["shard_size"] == 1024 and [s["records"] for s in plan["shards"]] == [1024, 396]
    assert 0 < files["2"]["stats"]["rejected"] < 1420
