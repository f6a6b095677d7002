"""The whole curation chain (exact dedup -> near dedup -> filter -> judge -> select -> export) on
real data against the local server: it runs, stops at a request budget, resumes without paying
twice, and its card shows the funnel."""

from __future__ import annotations

import pytest

from pipeline.errors import BudgetError
from tests.conftest import SAMPLES
from tests.fake_openai import ok
from tests.scoring.conftest import llm_block, lines, run_recipe, stats, write_recipe
from tests.scoring.scripted import echo_code, section, split_record


def length_judge(call):
    """5 for answers over 400 characters, 4.5 over 150, else 3: a stand-in for a real judge."""
    code, inside, _ = split_record(call.messages[1]["content"])
    answer = section(inside, code, "answer")
    score = "5" if len(answer) > 400 else "4.5" if len(answer) > 150 else "3"
    return ok(f"{score}\nJudged by length.")(call)


def chain(tmp_path, server, **llm):
    stages = [
        {"id": "alpaca", "op": "ingest", "source": "alpaca", "path": str(SAMPLES / "alpaca_sample.json"),
         "limit": 150},
        {"id": "alpagasus", "op": "ingest", "source": "alpaca",
         "path": str(SAMPLES / "alpagasus_random_sample.json"), "limit": 60},
        {"id": "exact", "op": "dedup_exact", "inputs": ["alpaca", "alpagasus"]},
        {"id": "near", "op": "dedup_minhash", "inputs": ["exact"], "threshold": 0.5, "field": "instruction", "ngram": 2,
         "workers": 1},
        {"id": "filter", "op": "filter", "inputs": ["near"], "require_complete": True, "min_words": 3},
        {"id": "judge", "op": "judge", "inputs": ["filter"]},
        {"id": "select", "op": "select", "inputs": ["judge"], "score": "accuracy", "budget": 50},
        {"id": "export", "op": "export", "inputs": ["select"]},
    ]
    return write_recipe(tmp_path, "curation", llm_block(server, **llm), stages)


def card_without_llm_line(dataset):
    return [x for x in (dataset / "README.md").read_text().splitlines() if not x.startswith("| LLM requests")]


def funnel(out):
    return [(s, stats(out, s)["records_in"], stats(out, s)["records_out"])
            for s in ("exact", "near", "filter", "judge", "select", "export")]


def test_chain_runs_resumes_and_shows_its_funnel(tmp_path, server):
    server.reply_fn = echo_code(length_judge)
    clean = tmp_path / "clean"
    run_recipe(chain(tmp_path, server), clean)
    judged = server.completions
    counts = funnel(clean)
    # 10 rows of the two samples are the same; 2 more are near-duplicate "Give an example of ..."
    # instructions; 18 have no answer or fewer than 3 words; 118 of the 180 judged answers are
    # longer than 150 characters (4.5 or 5); select keeps the 50 best by the judge's score
    assert counts == [("exact", 210, 200), ("near", 200, 198), ("filter", 198, 180), ("judge", 180, 118),
                      ("select", 118, 50), ("export", 50, 50)]
    assert stats(clean, "judge")["dropped_below_threshold"] == 62
    assert stats(clean, "select")["dropped_over_budget"] == 68
    assert judged == 180                                           # one request per judged record
    card = (clean / "export" / "dataset" / "README.md").read_text()
    for stage, n_in, n_out in counts[:-1]:
        op = {"exact": "dedup_exact", "near": "dedup_minhash"}.get(stage, stage)
        assert f"| {stage} | {op} | {n_in} | {n_out} |" in card

    server.reset_counts()
    resumed = tmp_path / "resumed"
    with pytest.raises(BudgetError):
        run_recipe(chain(tmp_path, server, max_requests=20), resumed)
    assert server.completions == 20
    run_recipe(chain(tmp_path, server), resumed)
    assert server.completions == judged and max(server.hits.values()) == 1
    assert funnel(resumed) == counts
    dataset, clean_dataset = resumed / "export" / "dataset", clean / "export" / "dataset"
    assert (dataset / "train.jsonl").read_bytes() == (clean_dataset / "train.jsonl").read_bytes()
    # the cards differ only in the LLM line, which counts the requests of the last attempt
    assert card_without_llm_line(dataset) == card_without_llm_line(clean_dataset)
    assert [r["id"] for r in lines(resumed / "judge" / "data.jsonl")] == \
        [r["id"] for r in lines(clean / "judge" / "data.jsonl")]
