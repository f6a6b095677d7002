"""G2 13: cache-key sensitivity, and budgets that stop a run gracefully and resumably."""

from __future__ import annotations

import json
import sqlite3

import pytest

from pipeline.errors import BudgetError
from pipeline.llm.canonical import prepare
from pipeline.llm.secrets import public_url
from pipeline.llm.settings import LLMSettings
from pipeline.llm.types import Request
from tests.llm.conftest import check_ledger, run_recipe, stats, write_recipe

BASE = LLMSettings(model="m", temperature=0.7, top_p=0.9, max_tokens=256, seed=1)
URL = "http://127.0.0.1:1/v1"
MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi to {{ name }}."}]


def key(messages=MSGS, settings=BASE, url=URL, sample=0, **params) -> str:
    return prepare(Request.chat(messages, sample=sample, **params), settings, settings.model, url).key


@pytest.mark.parametrize("change", [
    {"messages": [MSGS[0], {"role": "user", "content": "Say hello to {{ name }}."}]},   # template text
    {"messages": [{"role": "system", "content": "Be long."}, MSGS[1]]},                  # system prompt
    {"settings": BASE.model_copy(update={"model": "m2"})},
    {"settings": BASE.model_copy(update={"temperature": 0.2})},
    {"settings": BASE.model_copy(update={"top_p": 1.0})},
    {"settings": BASE.model_copy(update={"max_tokens": 512})},
    {"settings": BASE.model_copy(update={"seed": 2})},
    {"sample": 1},
    {"response_format": {"type": "json_object"}},
    {"url": "http://127.0.0.1:2/v1"},
    {"temperature": 0.1},
    {"_reask": 1},
], ids=["template", "system", "model", "temperature", "top_p", "max_tokens", "seed", "sample",
        "response_format", "base_url", "request_param", "reask"])
def test_every_change_that_alters_the_answer_is_a_cache_miss(change):
    assert key(**change) != key()


def test_transport_settings_credentials_and_ordering_are_not_in_the_key():
    same = BASE.model_copy(update={"concurrency": 256, "timeout": 5, "max_retries": 0, "rpm": 10,
                                   "price_in": 3.0, "api_key_env": "OTHER_KEY", "mode": "batch"})
    reordered = [{"content": m["content"], "role": m["role"]} for m in MSGS]
    assert key(settings=same) == key() == key(messages=reordered)
    assert key(url=public_url("http://user:secret@127.0.0.1:1/v1/")) == key()
    assert prepare(Request.chat(MSGS, a=1, b=2), BASE, "m", URL).key == \
        prepare(Request(tuple(MSGS), None, (("b", 2), ("a", 1))), BASE, "m", URL).key


def test_key_rotation_worker_count_and_post_processing_changes_send_nothing(tmp_path, llm_env, monkeypatch):
    recipe = write_recipe(tmp_path, llm_env.base_url)
    out = tmp_path / "run"
    run_recipe(recipe, out)
    assert sum(llm_env.hits.values()) == 60
    monkeypatch.setenv("OPENAI_API_KEY", "sk-rotated-key-000000000000")
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"concurrency": 3, "timeout": 7},
                          respond={"refusal_prose": False})
    run_recipe(recipe, out)
    assert sum(llm_env.hits.values()) == 60 and stats(out)["cached"] == 60 and stats(out)["requests"] == 0
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"temperature": 0.3})
    run_recipe(recipe, out)
    assert sum(llm_env.hits.values()) == 120 and stats(out)["requests"] == 60
    assert {tuple(sorted(c.body)) for c in llm_env.calls[60:]} == {("messages", "model", "temperature")}


def test_responses_are_stored_raw_without_the_key(tmp_path, llm_env):
    recipe = write_recipe(tmp_path, llm_env.base_url)
    run_recipe(recipe, tmp_path / "run")
    db = sqlite3.connect(tmp_path / "run" / "cache" / "llm.sqlite")
    rows = db.execute("SELECT stage, request, response FROM responses").fetchall()
    assert len(rows) == 60 and all(stage == "respond" and '"choices"' in resp for stage, _, resp in rows)
    assert all("sk-canary" not in req + resp for _, req, resp in rows)


def test_max_requests_stops_gracefully_and_a_raised_budget_resumes(tmp_path, llm_env):
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"max_requests": 25})
    out = tmp_path / "run"
    with pytest.raises(BudgetError, match="max_requests 25 reached.*35 requests not sent"):
        run_recipe(recipe, out)
    assert sum(llm_env.hits.values()) == 25 and stats(out)["records_out"] == 25
    assert not (out / "respond" / "done.json").exists()
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"max_requests": 100})
    run_recipe(recipe, out)
    check_ledger(out, 60)
    assert sum(llm_env.hits.values()) == 60 and stats(out)["cached"] == 25


def test_max_cost_counts_the_run_folder_spend_across_attempts(tmp_path, llm_env):
    prices = {"price_in": 1000.0, "price_out": 1000.0, "max_cost_usd": 0.2}
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={**prices, "concurrency": 1})
    out = tmp_path / "run"
    with pytest.raises(BudgetError, match="max_cost_usd 0.2 reached"):
        run_recipe(recipe, out)
    paid = sum(llm_env.hits.values())
    assert 0 < paid < 60 and stats(out)["cost_usd"] >= 0.2
    with pytest.raises(BudgetError):
        run_recipe(recipe, out)
    assert sum(llm_env.hits.values()) == paid, "the same budget sends nothing more"
    assert stats(out)["cached"] == paid and stats(out)["requests"] == 0


def test_status_reports_requests_cache_hits_tokens_and_cost(tmp_path, llm_env, run_cli):
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"price_in": 1.0, "price_out": 2.0})
    out = tmp_path / "run"
    run_recipe(recipe, out)
    run_recipe(recipe, out, force=("respond",))
    proc = run_cli("status", str(out), "--json")
    row = next(r for r in json.loads(proc.stdout) if r["id"] == "respond")
    s = stats(out)
    assert row["requests"] == 0 and row["cached"] == 60 and row["tokens_in"] == s["tokens_in"] > 0
    assert row["cost_usd"] == round((s["tokens_in"] * 1.0 + s["tokens_out"] * 2.0) / 1e6, 6) > 0


def test_completion_style_requests_use_the_completions_endpoint(tmp_path, fake_openai):
    from collections import Counter

    from pipeline.llm.client import StageClient

    llm = StageClient("t", LLMSettings(model="m", max_tokens=5), fake_openai.base_url, tmp_path, Counter())
    [reply] = list(llm.run([Request.completion("Once upon a time")]))
    llm.close()
    assert reply.text == "answer: Once upon a time" and reply.complete
    assert fake_openai.paths["POST /completions"] == 1
    assert fake_openai.calls[0].body == {"model": "m", "max_tokens": 5, "prompt": "Once upon a time"}
