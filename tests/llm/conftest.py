"""Fixtures for LLM tests: the fake OpenAI server, respond recipes and the ledger check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES
from tests.fake_openai import FakeOpenAI

OPEN_60 = FIXTURES / "llm" / "dolly_open_60.jsonl"
COMPLETE_4 = FIXTURES / "llm" / "dolly_complete_4.jsonl"
CANARY_KEY = "sk-canary-0123456789abcdefXYZ"


@pytest.fixture
def fake_openai():
    """A started fake server; script it with `server.reply_fn = ...`, read `server.hits`."""
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def llm_env(monkeypatch, fake_openai):
    """Point the default endpoint at the fake server with a canary key."""
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    return fake_openai


def write_recipe(folder: Path, base_url: str, *, llm: dict | None = None, respond: dict | None = None,
                 inputs: tuple[Path, ...] = (OPEN_60,), name: str = "llmtest") -> Path:
    """A recipe: one `messages` ingest per input file, then `respond` over all of them."""
    stages = [{"id": f"in{i}", "op": "ingest", "source": "messages", "path": str(p)}
              for i, p in enumerate(inputs, start=1)]
    stages.append({"id": "respond", "op": "respond", "inputs": [s["id"] for s in stages], **(respond or {})})
    block = {"model": "fake-model", "base_url": base_url, "concurrency": 8, "max_retries": 3,
             "max_wait": 0.2, **(llm or {})}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump({"name": name, "llm": block, "stages": stages}, sort_keys=False))
    return path


def run_recipe(path: Path, out: Path, **opts):
    from pipeline.recipe import load_recipe
    from pipeline.runner import RunOptions, Runner

    return Runner(load_recipe(path), out, RunOptions(**opts)).run()


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def stats(out: Path, stage: str = "respond") -> dict:
    return json.loads((out / stage / "stats.json").read_text())


def check_ledger(out: Path, n_inputs: int, stage: str = "respond", n: int = 1) -> tuple[list, list]:
    """ok + rejected = inputs (x samples); no torn line; no record id twice (for n == 1)."""
    raw = (out / stage / "data.jsonl").read_bytes() if (out / stage / "data.jsonl").exists() else b""
    assert not raw or raw.endswith(b"\n"), "torn last line"
    ok, rej = read_lines(out / stage / "data.jsonl"), read_lines(out / stage / "rejected.jsonl")
    assert len(ok) + len(rej) == n_inputs * n
    if n == 1:
        parents = [r["meta"]["parents"][0] for r in ok] + [r["record"]["id"] for r in rej]
        assert len(parents) == len(set(parents)), "an input answered twice"
    return ok, rej
