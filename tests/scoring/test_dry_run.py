"""`run --dry-run` renders the first round of every scoring stage and writes none of their files."""

from __future__ import annotations

import json

from tests.conftest import SAMPLES
from tests.scoring.conftest import run_recipe, write_recipe


def test_dry_run_counts_first_round_requests(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dry-run-0123456789abcdef")
    stages = [
        {"id": "alpaca", "op": "ingest", "source": "alpaca", "path": str(SAMPLES / "alpaca_sample.json"),
         "limit": 20},
        {"id": "judge", "op": "judge", "inputs": ["alpaca"]},
        {"id": "deita", "op": "score_deita", "inputs": ["alpaca"]},
        {"id": "tags", "op": "tag", "inputs": ["alpaca"]},
        {"id": "pairs", "op": "pairs", "inputs": ["alpaca"]},
    ]
    out = tmp_path / "run"
    run_recipe(write_recipe(tmp_path, "dry", {"model": "gpt-4o-mini"}, stages), out, dry_run=True)
    summary = json.loads((out / "dry-run" / "summary.json").read_text())
    # 16 of the 20 rows have an answer to judge; Deita: 20 complexity + 16 quality requests;
    # one tag request per row; pairs: one answer per prompt, nothing to rank
    assert {k: v["requests"] for k, v in summary.items()} == {"judge": 16, "deita": 36, "tags": 20, "pairs": 0}
    assert sorted(p.name for p in (out / "dry-run").iterdir()) == \
        ["deita.md", "judge.md", "pairs.md", "summary.json", "tags.md"]
    assert "<<<REC-" in (out / "dry-run" / "judge.md").read_text()
