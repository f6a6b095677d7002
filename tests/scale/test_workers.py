"""Issue 11: per-record stages run as shards in N processes and write the same bytes as one process."""

from __future__ import annotations

import importlib.util
import json

from tests.conftest import cli
from tests.scale.conftest import make_input, snapshot, write_recipe

ENV = {"OPENAI_API_KEY": "sk-test-scale-0000"}


def test_workers_2_writes_the_same_files_as_one_process(tmp_path, server):
    recipe = write_recipe(tmp_path, make_input(tmp_path / "in.jsonl"), server.base_url)
    one, two = tmp_path / "one", tmp_path / "two"
    proc = cli("run", str(recipe), "--out", str(one), env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert not (one / "filter" / "shards").exists()  # one worker: one piece, as before
    asked = server.completions
    server.reset_counts()
    proc = cli("run", str(recipe), "--out", str(two), "--workers", "2", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(one) == snapshot(two)
    assert server.completions == asked and max(server.hits.values()) == 1  # each request once
    for st in ("filter", "lang", "answer"):
        plan = json.loads((two / st / "shards" / "plan.json").read_text())
        assert plan["shard_size"] == 40 and len(plan["shards"]) > 2
        assert sum(s["records"] for s in plan["shards"]) == plan["records"]
        assert all((two / st / "shards" / f"{i:05d}" / "done.json").exists() for i in range(len(plan["shards"])))
    assert (two / "exact" / "shards" / "reduce.json").exists()  # hashed per shard, decided once
    assert (two / "near" / "shards" / "reduce.json").exists()  # dedup_minhash too (test_minhash_shards.py)
    stats = json.loads((two / "answer" / "stats.json").read_text())
    assert stats["records_in"] == stats["records_out"] + stats["rejected"]


def test_engine_options_say_what_is_wrong_in_one_line(tmp_path, server):
    ray_missing = importlib.util.find_spec("ray") is None
    recipe = write_recipe(tmp_path, make_input(tmp_path / "in.jsonl", 20), server.base_url)
    for args, words in ((["--engine", "ray"], "--engine ray needs Ray: pip install 'instructpipe[ray]'"),
                        (["--engine", "spark"], "--engine spark: expected local or ray"),
                        (["--address", "auto"], "--address names a Ray cluster"),
                        (["--workers", "0"], "--workers")):
        if args[-1] == "ray" and not ray_missing:
            continue
        proc = cli("run", str(recipe), "--out", str(tmp_path / "run"), *args, env=ENV)
        assert proc.returncode != 0 and words in proc.stderr, (args, proc.stderr)
        assert not (tmp_path / "run").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text(recipe.read_text().replace("engine: {shard_size: 40}", "engine: {workers: two}"))
    proc = cli("run", str(bad), "--out", str(tmp_path / "run"), env=ENV)
    assert proc.returncode == 1 and "engine.workers" in proc.stderr, proc.stderr


def test_the_engine_block_runs_workers_and_stays_out_of_the_fingerprint(tmp_path, server):
    recipe = write_recipe(tmp_path, make_input(tmp_path / "in.jsonl", 120), server.base_url)
    out = tmp_path / "run"
    cli("run", str(recipe), "--out", str(out), env=ENV, check=True)
    recipe.write_text(recipe.read_text().replace("engine: {shard_size: 40}", "engine: {shard_size: 40, workers: 2}"))
    proc = cli("run", str(recipe), "--out", str(out), env=ENV, check=True)
    assert "nothing to do: every stage is done" in proc.stderr  # same fingerprints: nothing re-runs
    proc = cli("run", str(recipe), "--out", str(out), "--force", "filter", env=ENV, check=True)
    assert "[filter] 3 shards of up to 40 records, 2 workers" in proc.stderr
