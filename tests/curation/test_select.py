"""select on real Alpaca and COIG records carrying stand-in scores (the LLM scorers are other
ops): ranking by a score expression, budget, ROUGE-L and embedding diversity, source quotas."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.expr import ExprError, ScoreExpr


def scored(rows: list[dict], source: str) -> list[dict]:
    """Messages rows with deterministic stand-in Deita-style scores: per-turn lists for COIG."""
    out = []
    for k, x in enumerate(rows):
        user = x["instruction"] + ("\n\n" + x["input"] if x["input"] else "")
        quality = 1 + min(5, len(x["output"]) // 120)
        complexity = 1 + (len(user.split()) + k) % 6
        scores = {"quality": quality, "complexity": complexity}
        if source == "coig":
            scores = {"quality": [quality, 3], "complexity": [complexity, 2]}
        if k % 50 == 7:
            scores = {"quality": quality}  # no complexity: cannot be scored
        out.append({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": x["output"]}],
                    "meta": {"source": source, "scores": scores}})
    return out


@pytest.fixture
def pools(rows, write_jsonl):
    write_jsonl("alpaca_scored.jsonl", scored(rows("alpaca_slice.json"), "alpaca"))
    write_jsonl("coig_scored.jsonl", scored(rows("coig_ruozhiba.jsonl"), "coig"))
    return [{"id": "alpaca", "op": "ingest", "source": "messages", "path": "alpaca_scored.jsonl"},
            {"id": "coig", "op": "ingest", "source": "messages", "path": "coig_scored.jsonl"}]


def test_budget_by_score_without_diversity(run_stages, pools):
    r = run_stages(pools[0], {"id": "s", "op": "select", "inputs": ["alpaca"], "budget": 50,
                              "score": "quality * complexity", "diversity": False})
    assert r.reasons("s") == {"no_score": 6, "over_budget": 228}
    kept = r.records("s")
    values = [k["meta"]["scores"]["quality"] * k["meta"]["scores"]["complexity"] for k in kept]
    pool = sorted((x["meta"]["scores"]["quality"] * x["meta"]["scores"]["complexity"]
                   for x in r.records("alpaca") if "complexity" in x["meta"]["scores"]), reverse=True)
    assert len(kept) == 50 and sorted(values, reverse=True) == pool[:50] and pool[49] == 15
    assert sorted(k["meta"]["select"]["rank"] for k in kept) == list(range(50))
    assert [k["meta"]["select"]["score"] for k in kept] == values
    missing = [x for x in r.rejected("s") if x["reason"] == "no_score"]
    assert missing[0]["detail"] == "meta.scores has no 'complexity'"


def test_rouge_diversity(run_stages, pools):
    r = run_stages(pools[0], {"id": "s", "op": "select", "inputs": ["alpaca"], "budget": 200,
                              "score": "quality * complexity", "tau": 0.5})
    assert r.reasons("s") == {"no_score": 6, "too_similar": 10, "over_budget": 68}
    sim = next(x for x in r.rejected("s") if x["reason"] == "too_similar")
    assert sim["similarity"] > 0.5 and sim["similar_to"] in {k["id"] for k in r.records("s")}


def test_embedding_diversity_and_quotas(run_stages, pools):
    r = run_stages(*pools, {"id": "s", "op": "select", "inputs": ["alpaca", "coig"], "budget": 120,
                            "score": "sum(quality * complexity)", "embedder": "hashing", "tau": 0.6,
                            "quotas": {"coig": 10}})
    assert r.reasons("s") == {"no_score": 8, "too_similar": 7, "over_quota": 48, "over_budget": 161}
    assert sum(k["meta"]["source"] == "coig" for k in r.records("s")) == 10


def test_missing_scores_last_and_no_score_expression(run_stages, pools):
    r = run_stages(pools[0], {"id": "s", "op": "select", "inputs": ["alpaca"], "score": "quality * complexity",
                              "missing_score": "last", "diversity": False})
    assert r.stats("s")["records_out"] == 284
    assert max(k["meta"]["select"]["rank"] for k in r.records("s") if "complexity" not in k["meta"]["scores"]) == 283
    r = run_stages(pools[0], {"id": "s", "op": "select", "inputs": ["alpaca"], "budget": 10, "diversity": False},
                   out="plain")
    assert [k["meta"]["select"]["rank"] for k in r.records("s")] == list(range(10))


def test_unsafe_expressions_are_config_errors(run_stages, pools):
    with pytest.raises(ConfigError, match=r"stages\[1\]\.score.*not allowed"):
        run_stages(pools[0], {"id": "s", "op": "select", "inputs": ["alpaca"], "score": "__import__('os')"})
    for bad in ("quality.__class__", "[1][0]", "quality if 1 else 2", "'a'", "open(1)"):
        with pytest.raises(ExprError):
            ScoreExpr(bad)
    assert ScoreExpr("sum(complexity * quality)").value({"complexity": [2, 3], "quality": [4, 5]}) == 23
    with pytest.raises(ExprError, match="finite"):
        ScoreExpr("a / b").value({"a": 1, "b": 0})
