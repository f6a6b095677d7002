"""`run --dry-run`: first-round requests rendered, counted and priced, with no network and no key."""

from __future__ import annotations

import json

import pytest

from pipeline.llm.pricing import listed, prices
from pipeline.llm.settings import LLMSettings
from tests.conftest import ROOT, cli
from tests.llm.conftest import COMPLETE_4, OPEN_60, write_recipe


def test_dry_run_renders_counts_and_prices_without_network_or_key(tmp_path, fake_openai):
    recipe = write_recipe(tmp_path, fake_openai.base_url, inputs=(OPEN_60, COMPLETE_4),
                          llm={"price_in": 2.0, "price_out": 8.0, "max_tokens": 100},
                          respond={"n": 2, "system": "Answer briefly."})
    out = tmp_path / "run"
    proc = cli("run", str(recipe), "--out", str(out), "--dry-run", env={"OPENAI_API_KEY": ""})
    assert proc.returncode == 0, proc.stderr
    assert fake_openai.completions == 0 and not fake_openai.paths
    summary = json.loads((out / "dry-run" / "summary.json").read_text())["respond"]
    assert summary["requests"] == 120 and summary["tokens_out_est"] == 12000
    cost = (summary["tokens_in_est"] * 2.0 + 12000 * 8.0) / 1e6
    assert summary["cost_usd_est"] == round(cost, 6) and summary["tokens_in_est"] > 120 * 4
    assert "120 requests rendered (first round)" in proc.stderr and "(prices recipe)" in proc.stderr
    assert summary["stage"]["requests_est"] == 120 and summary["stage"]["count_exact"] is True
    assert summary["price_source"] == "recipe" and summary["stage"]["cost_usd_est"] == summary["cost_usd_est"]
    samples = (out / "dry-run" / "respond.md").read_text()
    first = json.loads(OPEN_60.read_text().splitlines()[0])["messages"][0]["content"]
    assert samples.count("## Request") == 5 and first in samples and "Answer briefly." in samples
    assert not (out / "respond").exists() and not (out / "in1").exists()


def test_dry_run_uses_cli_overrides_and_reports_unrenderable_stages(tmp_path, fake_openai):
    recipe = write_recipe(tmp_path, fake_openai.base_url)
    text = recipe.read_text().replace("- id: respond", "- id: respond2\n  op: respond\n  inputs: [respond]\n- id: respond")
    recipe.write_text(text)
    out = tmp_path / "run"
    proc = cli("run", str(recipe), "--out", str(out), "--dry-run", "--model", "other-model")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "dry-run" / "summary.json").read_text())
    assert summary["respond"]["model"] == "other-model" and summary["respond"]["requests"] == 60
    assert summary["respond2"]["rendered"] is False and "'respond'" in summary["respond2"]["why"]
    assert fake_openai.completions == 0


def dry_run(recipe, out, *extra):
    proc = cli("run", str(recipe), "--out", str(out), "--dry-run", *extra, env={"OPENAI_API_KEY": ""})
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads((out / "dry-run" / "summary.json").read_text())


def test_self_instruct_is_estimated_for_the_whole_stage_at_table_prices(tmp_path):
    """Issue 15 item 15: the bundled recipe estimated "10 requests", $0.0000; its real run sent 429."""
    proc, summary = dry_run(ROOT / "recipes" / "self_instruct.yaml", tmp_path / "run")
    entry = summary["generate"]
    assert entry["requests"] == 10 and entry["model"] == "gpt-4o-mini"
    assert entry["price_source"].startswith("table 20") and (entry["price_in"], entry["price_out"]) == (0.15, 0.6)
    stage = entry["stage"]
    # target 200: ceil(200 / (7 x 0.5)) = 58 list requests, then 200 classification + 200 instance requests
    assert stage["requests_est"] == 58 + 400 and stage["count_exact"] is False
    assert "stage.requests_est" in entry["estimated"] and "assumed kept" in stage["basis"]
    assert stage["cost_usd_est"] > 45 * entry["cost_usd_est"] > 0
    line = next(x for x in proc.stderr.splitlines() if x.startswith("[generate] dry run"))
    assert "whole stage, estimated: ~458 requests" in line and "$0.0000" not in line
    samples = (tmp_path / "run" / "dry-run" / "generate.md").read_text()
    assert "whole stage: 458 requests (estimated:" in samples and "10 requests (counted)" in samples


def test_evol_counts_rounds_and_checks(tmp_path):
    proc, summary = dry_run(ROOT / "recipes" / "evol_instruct.yaml", tmp_path / "run")
    stage_id, entry = next((k, v) for k, v in summary.items() if v.get("rendered"))
    first = entry["requests"]
    assert first > 0 and entry["stage"]["requests_est"] == first * 4 * 3  # 4 rounds x evolve, answer, equality
    assert entry["cost_usd_est"] > 0


@pytest.mark.parametrize("model, expected", [("gpt-4o-mini", (0.15, 0.6)), ("gpt-4o-mini-2024-07-18", (0.15, 0.6)),
                                             ("gpt-4o-2024-08-06", (2.5, 10.0)), ("openai/gpt-4.1-mini", (0.4, 1.6)),
                                             ("o3-mini", (1.1, 4.4)), ("gpt-4o-minix", None), ("gpt-3.5-turbo-0125", (0.5, 1.5)),
                                             ("gpt-4o-audio-preview", None),
                                             ("meta-llama/Llama-3.1-8B", None), (None, None)])
def test_the_price_table_matches_dated_and_prefixed_names(model, expected):
    assert listed(model) == expected


def test_recipe_prices_win_and_batch_halves_the_table():
    assert prices(LLMSettings(model="gpt-4o", price_in=1.0)).price_out == 0.0
    assert prices(LLMSettings(model="gpt-4o", price_in=1.0)).source == "recipe"
    batch = prices(LLMSettings(model="gpt-4o", mode="batch"))
    assert (batch.price_in, batch.price_out) == (1.25, 5.0) and "batch" in batch.source
    unknown = prices(LLMSettings(model="local-llama"))
    assert (unknown.price_in, unknown.price_out, unknown.source) == (0.0, 0.0, "unknown")


def test_a_real_run_is_priced_from_the_table_too(tmp_path, llm_env):
    """Accounting and `max_cost_usd` use the prices the dry run showed (no price set in the recipe)."""
    from tests.llm.conftest import run_recipe, stats

    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"model": "gpt-4o-mini"})
    run_recipe(recipe, tmp_path / "run")
    st = stats(tmp_path / "run")
    assert st["tokens_in"] > 0 and st["cost_usd"] == pytest.approx((st["tokens_in"] * 0.15 + st["tokens_out"] * 0.6) / 1e6)
