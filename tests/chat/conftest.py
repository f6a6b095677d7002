"""Fixtures for the chat ops: the fake OpenAI server driven by the scripted model, recipes, results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.record import check_messages

KEY = "sk-test-chat-0000"


@pytest.fixture
def model():
    from tests.chat.scripted import Model

    return Model()


@pytest.fixture
def server(model, monkeypatch):
    from tests.fake_openai import FakeOpenAI

    srv = FakeOpenAI(reply_fn=model).start()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
    yield srv
    srv.stop()


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps({"messages": r} if isinstance(r, list) else r, ensure_ascii=False) + "\n"
                            for r in rows), encoding="utf-8")
    return path


def questions(*texts: str) -> list[list[dict]]:
    return [[{"role": "user", "content": t}] for t in texts]


def write_recipe(folder: Path, base_url: str, stages: list[dict], *, data: Path | None = None,
                 llm: dict | None = None, name: str = "chat") -> Path:
    head = [{"id": "in", "op": "ingest", "source": "messages", "path": str(data)}] if data else []
    block = {"model": "fake-model", "base_url": base_url, "concurrency": 4, "max_retries": 2,
             "max_reasks": 1, **(llm or {})}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "llm": block, "stages": head + stages},
                                   sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def run(recipe: Path, out: Path) -> dict:
    from pipeline.recipe import load_recipe
    from pipeline.runner import Runner

    return Runner(load_recipe(recipe), out).run()


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def results(out: Path, stage: str) -> tuple[list[dict], list[dict], dict]:
    """(kept records, rejected rows, stats) of a stage; every kept record is a valid complete chat."""
    kept, rejected = lines(out / stage / "data.jsonl"), lines(out / stage / "rejected.jsonl")
    for rec in kept:
        assert check_messages(rec["messages"], complete=True) == [], rec
    stats = json.loads((out / stage / "stats.json").read_text())
    assert stats["records_out"] == len(kept) and stats["rejected"] == len(rejected)
    return kept, rejected, stats
