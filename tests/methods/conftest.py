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
