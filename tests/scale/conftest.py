"""Fixtures for the scale-out tests: a curation + LLM recipe over a few hundred records."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI

STAGES = ["in", "exact", "near", "filter", "lang", "answer", "export"]
WORDS = ("river stone garden window market letter summer candle bridge orange forest engine "
         "pocket silver cloud ladder").split()
FRENCH = "le chat noir dort sur la table pendant que la pluie tombe doucement dehors ce soir"


def make_input(path: Path, n: int = 300) -> Path:
    """Open instructions with exact and near duplicates, short ones and some French."""
    rng = random.Random(11)
    texts: list[str] = []
    for i in range(n):
        text = f"Describe item {i}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 30)))
        if i % 13 == 0:
            text = " ".join(rng.sample(FRENCH.split(), 12))
        elif i % 11 == 0:
            text = f"Hello {i}"
        elif i % 9 == 0:
            text = texts[i - 9]  # an exact duplicate
        elif i % 7 == 0:
            text = texts[i - 7].rsplit(" ", 1)[0] + " zebra"  # a near duplicate
        texts.append(text)
    with open(path, "w") as fh:
        for text in texts:
            fh.write(json.dumps({"messages": [{"role": "user", "content": text}]}) + "\n")
    return path


def write_recipe(tmp_path: Path, data: Path, base_url: str, shard_size: int = 40, concurrency: int = 8) -> Path:
    p = tmp_path / "scale.yaml"
    p.write_text(f"""
name: scale
engine: {{shard_size: {shard_size}}}
llm: {{model: fake-model, base_url: "{base_url}", concurrency: {concurrency}}}
stages:
  - {{id: in, op: ingest, source: messages, path: {data}}}
  - {{id: exact, op: dedup_exact, inputs: [in], field: instruction}}
  - {{id: near, op: dedup_minhash, inputs: [exact], field: instruction, threshold: 0.8}}
  - {{id: filter, op: filter, inputs: [near], instruction_min_words: 10}}
  - {{id: lang, op: langid, inputs: [filter], expect_lang: [en]}}
  - {{id: answer, op: respond, inputs: [lang]}}
  - {{id: export, op: export, inputs: [answer], validation: 0.1}}
""")
    return p


def snapshot(out: Path) -> dict:
    """Every stage's files and counters (without timings), and the exported dataset."""
    def counters(st: str) -> dict:
        return {k: v for k, v in json.loads((out / st / "stats.json").read_text()).items() if k != "seconds"}

    files = {f"{st}/{name}": (out / st / name).read_bytes()
             for st in STAGES for name in ("data.jsonl", "rejected.jsonl")}
    files.update({f"{st}/stats.json": counters(st) for st in STAGES})
    files.update({p.name: p.read_bytes() for p in (out / "export" / "dataset").iterdir()})
    return files


@pytest.fixture
def server():
    srv = FakeOpenAI().start()
    yield srv
    srv.stop()
