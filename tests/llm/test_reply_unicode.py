"""A reply holding a lone surrogate escape (valid JSON, not encodable as UTF-8) becomes U+FFFD,
on the first run and when it is read back from the request cache on a re-run."""

from __future__ import annotations

import shutil

from tests.fake_openai import ok
from tests.llm.conftest import check_ledger, run_recipe, write_recipe

N_OPEN = 60


def test_respond_repairs_a_reply_with_a_lone_surrogate_and_replays_it_from_the_cache(tmp_path, llm_env):
    llm_env.reply_fn = ok("the answer \ud800 is here")
    recipe = write_recipe(tmp_path, llm_env.base_url)
    out = tmp_path / "run"
    run_recipe(recipe, out)
    good, rejected = check_ledger(out, N_OPEN)
    assert len(good) == N_OPEN and not rejected
    assert {r["messages"][-1]["content"] for r in good} == {"the answer \ufffd is here"}
    hits = llm_env.completions
    # the stage done again from scratch reads every reply back from the run's request cache
    shutil.rmtree(out / "respond")
    run_recipe(recipe, out)
    again, _ = check_ledger(out, N_OPEN)
    assert llm_env.completions == hits
    assert sorted(r["id"] for r in again) == sorted(r["id"] for r in good)
    assert {r["messages"][-1]["content"] for r in again} == {"the answer \ufffd is here"}


def test_a_rejected_reply_with_a_lone_surrogate_is_written(tmp_path, llm_env):
    llm_env.reply_fn = ok("cut \ud800", finish_reason="length")
    out = tmp_path / "run"
    run_recipe(write_recipe(tmp_path, llm_env.base_url), out)
    good, rejected = check_ledger(out, N_OPEN)
    assert len(rejected) == N_OPEN and "cut \ufffd" in (out / "respond" / "rejected.jsonl").read_text()
