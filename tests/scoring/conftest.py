"""Fixtures for the LLM scoring tests: the fake OpenAI server and a recipe runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

CANARY_KEY = "sk-canary-scoring-0123456789abcdef"


@pytest.fixture
def server(monkeypatch):
    """A started fake server with the env pointing at it; script it with `server.reply_fn`."""
    from tests.fake_openai import FakeOpenAI

    srv = FakeOpenAI().start()
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
    yield srv
    srv.stop()


def llm_block(server, **extra) -> dict:
    return {"model": "fake-model", "base_url": server.base_url, "concurrency": 4, "max_retries": 1,
            "max_wait": 0.1, "max_reasks": 2, **extra}


def write_recipe(folder: Path, name: str, llm: dict, stages: list[dict]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "llm": llm, "stages": stages}, sort_keys=False))
    return path


def run_recipe(path: Path, out: Path, **opts) -> dict:
    from pipeline.recipe import load_recipe
    from pipeline.runner import RunOptions, Runner

    return Runner(load_recipe(path), out, RunOptions(**opts)).run()


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def stats(out: Path, stage: str) -> dict:
    return json.loads((out / stage / "stats.json").read_text())
