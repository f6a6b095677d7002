"""Recipes against the real server, and readers of a run folder's ledgers, cache and rejections."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import yaml

from tests.conftest import cli

HERE = Path(__file__).resolve().parent
OPEN = HERE / "open_questions.jsonl"
PAIRS = HERE / "short_pairs.json"
SEEDS = HERE.parent.parent / "sources" / "samples" / "self_instruct_seed_tasks.jsonl"
# The model's chat template (ChatML) marks turns with these; none may reach a record.
SPECIAL_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")
NO_KEY = {"OPENAI_API_KEY": ""}  # a local endpoint needs no key


def write_recipe(folder: Path, server, stages: list[dict], **llm) -> Path:
    block = {"model": server.model, "base_url": server.base_url, "concurrency": 2, "max_tokens": 48,
             "max_reasks": 1, "timeout": 600, "max_retries": 2, "seed": 1, **llm}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump({"name": "real", "llm": block, "stages": stages}, sort_keys=False))
    return path


def run(recipe: Path, out: Path, *args: str):
    return cli("run", str(recipe), "--out", str(out), *args, env=NO_KEY, timeout=3000)


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def stats(out: Path, stage: str) -> dict:
    return json.loads((out / stage / "stats.json").read_text())


def cache_keys(out: Path, stage: str | None = None) -> set[str]:
    path = out / "cache" / "llm.sqlite"
    if not path.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT key, stage FROM responses").fetchall()
    except sqlite3.OperationalError:  # the run has created the file but not the table yet
        return set()
    return {key for key, st in rows if stage is None or st == stage}


def reasons(st: dict) -> dict[str, int]:
    return {k[len("dropped_"):]: v for k, v in st.items() if k.startswith("dropped_") and v}


def strings(value) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []
