"""Issue 11 item 5: the progress output of a sharded stage counts the records the workers have
written so far, not only finished shards."""

from __future__ import annotations

import re

from tests.conftest import cli
from tests.scale.conftest import make_input, write_recipe


def test_progress_counts_records_inside_running_shards(tmp_path, server):
    server.latency = 0.25  # 200 answers, 2 at a time per worker: about 12 s, past the 10 s line
    data = make_input(tmp_path / "in.jsonl", 200)
    recipe = write_recipe(tmp_path, data, server.base_url, shard_size=100, concurrency=4)
    text = recipe.read_text().replace("  - {id: exact", "  - {id: answer, op: respond, inputs: [in]}\n#")
    recipe.write_text(text.split("\n#")[0] + "\n")
    proc = cli("run", str(recipe), "--out", str(tmp_path / "run"), "--workers", "2",
               env={"OPENAI_API_KEY": "sk-test-scale-0000"})
    assert proc.returncode == 0, proc.stderr
    assert "[answer] 2 shards of up to 100 records, 2 workers" in proc.stderr
    counts = [int(n) for n in re.findall(r"^  answer: (\d+) of 200 records$", proc.stderr, re.M)]
    assert counts and counts[0] % 100, proc.stderr  # counted inside running shards, not per finished shard
