"""Issue 11 item 4: an LLM stage on several workers: limits split exactly, budgets global."""

from __future__ import annotations

import json

from tests.conftest import cli
from tests.scale.conftest import make_input, write_recipe
from pipeline.shards import split_exact

ENV = {"OPENAI_API_KEY": "sk-test-scale-0000"}


def test_limits_split_exactly_over_the_workers():
    assert [split_exact(10, 4, i) for i in range(4)] == [3, 3, 2, 2]
    assert sum(split_exact(7, 3, i) for i in range(3)) == 7
    assert split_exact(90.0, 2, 1) == 45.0


def test_concurrency_is_global_across_workers(tmp_path, server):
    server.latency = 0.02
    recipe = write_recipe(tmp_path, make_input(tmp_path / "in.jsonl"), server.base_url, concurrency=3)
    proc = cli("run", str(recipe), "--out", str(tmp_path / "run"), "--workers", "2", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert server.completions > 100
    assert server.max_inflight <= 3  # 2 + 1, not 3 per worker


def test_max_requests_is_global_across_workers(tmp_path, server):
    server.latency = 0.01
    recipe = write_recipe(tmp_path, make_input(tmp_path / "in.jsonl"), server.base_url, concurrency=4)
    recipe.write_text(recipe.read_text().replace("concurrency: 4", "concurrency: 4, max_requests: 60"))
    out = tmp_path / "run"
    proc = cli("run", str(recipe), "--out", str(out), "--workers", "2", env=ENV)
    assert proc.returncode == 1
    assert "budget reached: max_requests 60" in proc.stderr
    # each worker sees what the others were answered; it cannot see their requests in flight
    assert 60 <= server.completions <= 60 + 4
    rows = {r["id"]: r for r in json.loads(cli("status", str(out), "--json", check=True).stdout)}
    assert rows["answer"]["state"] == "failed"
