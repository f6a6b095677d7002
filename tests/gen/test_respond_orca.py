"""`respond` with Orca system messages (by task family) and chain-of-thought requests, end to end."""

from __future__ import annotations

import pytest
import yaml

from pipeline.errors import ConfigError
from pipeline.gen.orca import choose_system, task_family
from pipeline.ops.respond import SPEC
from pipeline.record import Record
from tests.conftest import FIXTURES
from tests.gen.conftest import lines, run_recipe, stats
from tests.gen.test_orca import FAMILY_POOLS

FLAN = FIXTURES / "flan"
COT_LINE = "Reason through this step by step, showing your work, and then state the final answer."


def recipe(tmp_path, base_url, respond: dict):
    stages = [{"id": "flan", "op": "ingest", "source": "flan", "path": str(FLAN / "flan_collection_sample.jsonl")},
              {"id": "cot", "op": "ingest", "source": "flan", "path": str(FLAN / "cot_qasc_train.tsv"), "limit": 8},
              {"id": "gen", "op": "respond", "inputs": ["flan", "cot"], "reanswer": True, **respond}]
    doc = {"name": "orca", "llm": {"model": "fake-model", "base_url": base_url, "concurrency": 4}, "stages": stages}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_orca_system_messages_by_task_family(tmp_path, server):
    out = tmp_path / "run"
    run_recipe(recipe(tmp_path, server.base_url, {"orca": True, "seed": 5}), out)
    inputs = lines(out / "flan" / "data.jsonl") + lines(out / "cot" / "data.jsonl")
    rows = {r["meta"]["parents"][0]: r for r in lines(out / "gen" / "data.jsonl")}
    assert stats(out)["reanswered"] == len(inputs) == len(rows) == 20
    families = set()
    for src in inputs:
        rec = Record(src["id"], src["messages"], src["meta"])
        number, text = choose_system(rec, seed=5)
        family = task_family(src["meta"])
        families.add(family)
        got = rows[src["id"]]
        assert got["meta"]["system_message"] == number and number in FAMILY_POOLS[family]
        assert got["meta"]["task_family"] == family
        expected = ([{"role": "system", "content": text}] if text else []) + src["messages"][:-1]
        assert got["messages"][:-1] == expected and got["messages"][-1]["role"] == "assistant"
        assert got["messages"][-1]["content"] != src["messages"][-1]["content"]
    assert {"cot", "t0", "niv2", "flan"} <= families
    sent = {tuple(m["content"] for m in c.body["messages"] if m["role"] == "system") for c in server.calls}
    assert len(sent) >= 4


def test_chain_of_thought_asks_for_steps_and_keeps_the_question(tmp_path, server):
    out = tmp_path / "run"
    run_recipe(recipe(tmp_path, server.base_url, {"chain_of_thought": True}), out)
    assert all(c.body["messages"][-1]["content"].endswith("\n\n" + COT_LINE) for c in server.calls)
    for r in lines(out / "gen" / "data.jsonl"):
        assert r["meta"]["chain_of_thought"] is True
        assert COT_LINE not in r["messages"][-2]["content"]


def test_orca_and_system_together_are_refused_and_prompts_are_fingerprinted(tmp_path, server):
    with pytest.raises(ConfigError, match="either `system` or `orca: true`"):
        run_recipe(recipe(tmp_path, server.base_url, {"orca": True, "system": "Be brief."}), tmp_path / "run")
    params = SPEC.params(orca=True, chain_of_thought=True)
    assert SPEC.prompt_names(params) == ("orca_system", "respond_cot")
    assert SPEC.prompt_names(SPEC.params()) == ()
