"""Run small recipes over the curation fixtures in-process and read the stage files back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.recipe import build_recipe
from pipeline.runner import Runner

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "curation"


def ingest_stage(sid: str, file: str | Path, source: str = "alpaca", **params) -> dict:
    return {"id": sid, "op": "ingest", "source": source, "path": str(FIX / file), **params}


@pytest.fixture
def ingest():
    """ingest(stage_id, fixture_file, source="alpaca", **params) -> an ingest stage of a fixture."""
    return ingest_stage


class RunResult:
    def __init__(self, root: Path):
        self.root = root

    def _lines(self, sid: str, name: str) -> list[dict]:
        path = self.root / sid / name
        return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []

    def records(self, sid: str) -> list[dict]:
        return self._lines(sid, "data.jsonl")

    def rejected(self, sid: str) -> list[dict]:
        return self._lines(sid, "rejected.jsonl")

    def stats(self, sid: str) -> dict:
        return json.loads((self.root / sid / "stats.json").read_text())

    def reasons(self, sid: str) -> dict:
        return {k[len("dropped_"):]: v for k, v in self.stats(sid).items() if k.startswith("dropped_")}


@pytest.fixture
def fixtures() -> Path:
    return FIX


@pytest.fixture
def run_stages(tmp_path):
    """run_stages(*stage_dicts) -> RunResult: a recipe of those stages, run by the real runner."""
    def run(*stages: dict, out: str = "run") -> RunResult:
        recipe = build_recipe({"name": "curation-test", "stages": list(stages)}, tmp_path)
        Runner(recipe, tmp_path / out).run()
        return RunResult(tmp_path / out)
    return run


@pytest.fixture
def write_jsonl(tmp_path):
    def write(name: str, rows: list[dict]) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        return path
    return write


@pytest.fixture
def rows():
    """rows(file) -> the fixture file's rows (JSON array or JSONL)."""
    return fixture_rows


def fixture_rows(file: str) -> list[dict]:
    text = (FIX / file).read_text(encoding="utf-8")
    if file.endswith(".json"):
        return json.loads(text)
    return [json.loads(x) for x in text.splitlines() if x.strip()]
