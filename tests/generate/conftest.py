"""Fixtures for `generate` tests: the fake OpenAI server, a prompt file, open records, a recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.llm.conftest import fake_openai  # noqa: F401  (the fixture, shared)

PROMPT = """---
name: write_pair
version: 1
variables: [instruction]
---
Write one question and its answer about this topic: {{ instruction }}
"""
SCHEMA = {"type": "object", "required": ["question", "answer"], "additionalProperties": False,
          "properties": {"question": {"type": "string", "minLength": 1},
                         "answer": {"type": "string", "minLength": 1},
                         "difficulty": {"type": "integer", "minimum": 1, "maximum": 5}}}
TOPICS = ["tides", "volcanoes", "the {{ moon }}"]


@pytest.fixture
def gen_env(monkeypatch, fake_openai):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-generate")
    return fake_openai


def write_inputs(folder: Path, topics=TOPICS) -> Path:
    path = folder / "topics.jsonl"
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": t}]}) + "\n" for t in topics))
    return path


def write_recipe(folder: Path, base_url: str, generate: dict, *, llm: dict | None = None,
                 topics: list[str] = TOPICS) -> Path:
    (folder / "write_pair.md").write_text(PROMPT)
    stages = [{"id": "topics", "op": "ingest", "source": "messages", "path": str(write_inputs(folder, topics))},
              {"id": "gen", "op": "generate", "inputs": ["topics"], "prompt": "write_pair.md", **generate}]
    block = {"model": "fake-model", "base_url": base_url, "concurrency": 4, "max_retries": 1,
             "max_wait": 0.1, "max_reasks": 2, **(llm or {})}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump({"name": "gentest", "llm": block, "stages": stages}, sort_keys=False))
    return path


def run(path: Path, out: Path, **opts) -> dict:
    from pipeline.recipe import load_recipe
    from pipeline.runner import RunOptions, Runner

    return Runner(load_recipe(path), out, RunOptions(**opts)).run()


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def topic_of(call) -> str:
    """The topic a request is about (the prompt's last line ends with it)."""
    first_user = next(m["content"] for m in call.messages if m["role"] == "user")
    return first_user.split("about this topic: ", 1)[1].split("\n", 1)[0]
