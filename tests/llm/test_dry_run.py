"""`run --dry-run`: first-round requests rendered, counted and priced, with no network and no key."""

from __future__ import annotations

import json

from tests.conftest import cli
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
    assert "120 requests in the first round" in proc.stderr
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
