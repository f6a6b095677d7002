"""Fixtures for generation tests: the fake OpenAI server with scripted replies, recipes, stats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import SAMPLES

SEEDS = SAMPLES / "self_instruct_seed_tasks.jsonl"
ALPACA = SAMPLES / "alpaca_sample.json"
KEY = "sk-test-gen"


@pytest.fixture
def server(monkeypatch):
    """A started fake server answering with `tests.gen.scripted` replies."""
    from tests.fake_openai import FakeOpenAI
    from tests.gen.scripted import make_server_reply

    srv = FakeOpenAI(reply_fn=make_server_reply).start()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    yield srv
    srv.stop()


def write_recipe(folder: Path, base_url: str, stage: dict, *, seeds: dict | None = None,
                 llm: dict | None = None, extra: list[dict] | None = None) -> Path:
    """ingest (the bundled Self-Instruct seeds unless `seeds` says otherwise) -> `stage` -> `extra`."""
    ingest = {"id": "seeds", "op": "ingest", "source": "self_instruct_seeds", "path": str(SEEDS), **(seeds or {})}
    gen = {"id": "gen", "inputs": ["seeds"], **stage}
    if stage.get("inputs") == []:
        gen["inputs"] = []
    block = {"model": "fake-model", "base_url": base_url, "concurrency": 4, "max_retries": 2,
             "max_wait": 0.2, **(llm or {})}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "recipe.yaml"
    doc = {"name": "gentest", "llm": block, "stages": [ingest, gen, *(extra or [])]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_recipe(path: Path, out: Path, **opts) -> dict:
    from pipeline.recipe import load_recipe
    from pipeline.runner import RunOptions, Runner

    return Runner(load_recipe(path), out, RunOptions(**opts)).run()


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def stats(out: Path, stage: str = "gen") -> dict:
    return json.loads((out / stage / "stats.json").read_text())


def reasons(out: Path, stage: str = "gen") -> dict[str, int]:
    return {k[len("dropped_"):]: v for k, v in stats(out, stage).items() if k.startswith("dropped_")}
