"""Issue 11 item 1 on Ray: an ingest of a folder (a file per task), dedup_semantic and tag (their
map, reduce and apply steps) as Ray tasks write the files one process writes. Ray runs inside a
loopback-only network namespace, as in test_ray.py; skipped without Ray unless CI is set."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import FIXTURES
from tests.scale.test_ray import PORT, in_loopback_namespace, needs_ray

STAGES = ("in", "sem", "tags")


@needs_ray
@pytest.mark.timeout(900)
def test_ray_runs_the_folder_ingest_and_the_global_steps_as_one_process(tmp_path):
    rows = json.loads((FIXTURES / "curation" / "alpaca_slice.json").read_text())
    folder = tmp_path / "data"
    folder.mkdir()
    for k in range(3):
        (folder / f"part{k}.json").write_text(json.dumps(rows[k * 100:(k + 1) * 100]))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"""
name: raymore
engine: {{shard_size: 60}}
llm: {{model: fake-model, base_url: "http://127.0.0.1:{PORT}/v1", concurrency: 8, max_reasks: 1}}
stages:
  - {{id: in, op: ingest, source: alpaca, path: {folder}}}
  - {{id: sem, op: dedup_semantic, inputs: [in], threshold: 0.8}}
  - {{id: tags, op: tag, inputs: [sem], min_count: 1}}
""")
    run = f"$PY -m pipeline run {recipe} --out"
    proc = in_loopback_namespace(f"sleep 2; {run} one; {run} ray --engine ray --workers 2", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[in] 3 shards of one file each, 2 workers" in proc.stderr
    for st in STAGES:
        for name in ("data.jsonl", "rejected.jsonl"):
            assert (tmp_path / "one" / st / name).read_bytes() == (tmp_path / "ray" / st / name).read_bytes()
        one, two = (json.loads((tmp_path / r / st / "stats.json").read_text()) for r in ("one", "ray"))
        assert {k: v for k, v in one.items() if k != "seconds"} == {k: v for k, v in two.items() if k != "seconds"}
    assert (tmp_path / "ray" / "tags" / "shards" / "reduce.json").exists()
    shutil.rmtree(tmp_path / "ray", ignore_errors=True)
