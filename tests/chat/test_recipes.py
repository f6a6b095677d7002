"""The example recipes run end to end against the local fake server (scripted model)."""

from __future__ import annotations

import json

import pytest

from tests.chat.conftest import results
from tests.conftest import ROOT, cli

pytest.importorskip("py3langid")


def run_example(name: str, tmp_path, server) -> None:
    proc = cli("run", str(ROOT / "recipes" / f"{name}.yaml"), "--out", str(tmp_path / name),
               "--base-url", server.base_url, env={"OPENAI_API_KEY": "sk-test"})
    assert proc.returncode == 0, proc.stderr


def test_multiturn_recipe(tmp_path, server):
    run_example("multiturn", tmp_path, server)
    out = tmp_path / "multiturn"
    for stage, n in (("baize", 20), ("ultrachat", 20), ("camel", 8), ("selfee", 20)):
        kept, rejected, _ = results(out, stage)
        assert len(kept) + len(rejected) == n, stage
        assert len(kept) >= n - 1, (stage, rejected[:1])
    assert all(len(r["messages"]) >= 4 for r in results(out, "ultrachat")[0])
    train = (out / "export" / "dataset" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(train) == results(out, "filter")[2]["records_out"] >= 60


def test_multilingual_recipe(tmp_path, server):
    run_example("multilingual", tmp_path, server)
    out = tmp_path / "multilingual"
    kept, rejected, _ = results(out, "translated")
    assert len(kept) == 60 and not rejected
    checked, wrong, _ = results(out, "checked")
    assert len(checked) == 60 and not wrong
    assert sorted({r["meta"]["lang"] for r in checked}) == ["de", "fr", "zh"]
    sessions, _, _ = results(out, "sessions")
    assert len(sessions) == 20 and {r["meta"]["lang"] for r in sessions} <= {"zh", "de"}
    train = [json.loads(x) for x in (out / "export" / "dataset" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(train) == 80


@pytest.mark.parametrize("name, lines", [
    ("multiturn", ["[baize] dry run: 20 requests", "[ultrachat] dry run: 20 requests",
                   "[camel] dry run: 4 requests", "[selfee] dry run: 20 requests"]),
    ("multilingual", ["[translated] dry run: 60 requests", "[sessions] dry run: 20 requests"]),
])
def test_example_recipes_dry_run_offline(tmp_path, name, lines):
    proc = cli("run", str(ROOT / "recipes" / f"{name}.yaml"), "--out", str(tmp_path / name), "--dry-run",
               env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert proc.returncode == 0, proc.stderr
    for line in lines:
        assert line in proc.stderr + proc.stdout
