"""Issue 15 item 3: a stage's output order is its input order, not the order replies arrive in.
Two runs of one recipe against a server with random latencies write byte-identical files."""

from __future__ import annotations

import random
from pathlib import Path

import yaml

from tests.chat.scripted import Model
from tests.llm.conftest import OPEN_60, run_recipe

STAGES = ["respond", "refine", "chat", "tr", "export"]


def jittery(seed: int):
    """The scripted chat model, each reply delayed by 0-40 ms at random."""
    model, rng = Model(), random.Random(seed)

    def reply(call):
        out = model(call)
        out.delay = rng.uniform(0, 0.04)
        return out
    return reply


def recipe(folder: Path, base_url: str) -> Path:
    stages = [
        {"id": "in", "op": "ingest", "source": "messages", "path": str(OPEN_60), "limit": 24},
        {"id": "respond", "op": "respond", "inputs": ["in"]},
        {"id": "refine", "op": "self_refine", "inputs": ["respond"]},
        {"id": "chat", "op": "self_chat", "inputs": ["in"], "max_turns": 2},
        {"id": "tr", "op": "translate", "inputs": ["respond"], "languages": ["de", "fr"]},
        {"id": "export", "op": "export", "inputs": ["respond", "tr"], "validation": 0.25},
    ]
    block = {"model": "fake-model", "base_url": base_url, "concurrency": 8, "max_reasks": 1}
    path = folder / "order.yaml"
    path.write_text(yaml.safe_dump({"name": "order", "llm": block, "stages": stages}, sort_keys=False))
    return path


def files(out: Path) -> dict[str, bytes]:
    got = {}
    for st in STAGES:
        for p in sorted((out / st).rglob("*")):
            if p.is_file() and p.name not in ("stats.json", "done.json", "started.json"):
                got[str(p.relative_to(out))] = p.read_bytes()
    return got


def test_two_runs_with_random_latencies_write_identical_files(tmp_path, llm_env):
    llm_env.reply_fn = jittery(1)
    r = recipe(tmp_path, llm_env.base_url)
    run_recipe(r, tmp_path / "one")
    llm_env.reply_fn = jittery(2)
    run_recipe(r, tmp_path / "two")
    one, two = files(tmp_path / "one"), files(tmp_path / "two")
    assert any(k.startswith("export/dataset/") for k in one)
    assert sum(len(v) for k, v in one.items() if k.endswith("data.jsonl")) > 10_000
    assert one.keys() == two.keys()
    for name in one:
        assert one[name] == two[name], f"{name} differs between two runs"
