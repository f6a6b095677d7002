"""Fixtures for the survey's data-management methods: the fake server with a scripted reply function."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# `server` is the chat ops' fake server; it answers with this folder's `model`
from tests.chat.conftest import KEY, lines, run, server, write_recipe, write_rows  # noqa: F401


@pytest.fixture
def model():
    from tests.methods.scripted import Model

    return Model()


def stage_out(out: Path, stage: str) -> tuple[list[dict], list[dict], dict]:
    """(kept, rejected, stats) of a stage, the ledger checked."""
    kept, rejected = lines(out / stage / "data.jsonl"), lines(out / stage / "rejected.jsonl")
    stats = json.loads((out / stage / "stats.json").read_text())
    assert stats["records_out"] == len(kept) and stats["rejected"] == len(rejected)
    assert stats["records_in"] + stats.get("generated", 0) == \
        stats["records_out"] + stats["rejected"] + stats.get("consumed", 0)
    return kept, rejected, stats


def pairs(*qa: tuple[str, str]) -> list[list[dict]]:
    return [[{"role": "user", "content": q}, {"role": "assistant", "content": a}] for q, a in qa]


def check_resume(tmp_path: Path, server, make_recipe, stage: str, kill_after: int, latency: float = 0.02) -> dict:
    """Run a reference; run again, SIGKILLed after `kill_after` requests, then resumed: the same
    records come out, every request was paid at most twice, none beyond the reference's. Returns stats."""
    from tests.chat.test_resume import kill_at

    (tmp_path / "ref").mkdir()
    (tmp_path / "work").mkdir()
    run(make_recipe(tmp_path / "ref"), tmp_path / "ref" / "out")
    want, _, _ = stage_out(tmp_path / "ref" / "out", stage)
    asked = len(server.hits)
    server.reset_counts()
    server.latency = latency
    recipe = make_recipe(tmp_path / "work")
    kill_at(recipe, tmp_path / "work" / "out", server, kill_after)
    run(recipe, tmp_path / "work" / "out")
    got, _, stats = stage_out(tmp_path / "work" / "out", stage)
    assert [r["id"] for r in got] == [r["id"] for r in want]
    assert len(server.hits) == asked and max(server.hits.values()) <= 2
    return stats


def run_bundled(tmp_path: Path, server, name: str) -> Path:
    """`recipes/<name>.yaml` through the CLI: a dry run that sends nothing, then a real run; its output folder."""
    from tests.conftest import ROOT, cli

    recipe = str(ROOT / "recipes" / f"{name}.yaml")
    dry = cli("run", recipe, "--out", str(tmp_path / "dry"), "--dry-run", "--base-url", server.base_url)
    assert dry.returncode == 0, dry.stderr
    assert not server.hits
    proc = cli("run", recipe, "--out", str(tmp_path / "out"), "--base-url", server.base_url)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "out"
