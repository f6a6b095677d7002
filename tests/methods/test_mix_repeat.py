"""`mix` with `repeat` (Data-Constrained Scaling): a small high-quality input repeated for k epochs."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from tests.methods.conftest import pairs, run, stage_out, write_recipe, write_rows


def two_inputs(tmp_path, mix: dict):
    gold = write_rows(tmp_path / "gold.jsonl", pairs(*[(f"gold q{i}", f"gold a{i}") for i in range(3)]))
    bulk = write_rows(tmp_path / "bulk.jsonl", pairs(*[(f"bulk q{i}", f"bulk a{i}") for i in range(20)]))
    stages = [{"id": "gold", "op": "ingest", "source": "messages", "path": str(gold)},
              {"id": "bulk", "op": "ingest", "source": "messages", "path": str(bulk)},
              {"id": "mix", "op": "mix", "inputs": ["gold", "bulk"], **mix}]
    return write_recipe(tmp_path, "http://127.0.0.1:9", stages)


def test_repeat_copies_each_record_for_k_epochs(tmp_path):
    run(two_inputs(tmp_path, {"repeat": {"gold": 4}}), tmp_path / "out")
    kept, _, stats = stage_out(tmp_path / "out", "mix")
    gold = [r for r in kept if r["messages"][0]["content"].startswith("gold")]
    assert len(gold) == 12 and len(kept) == 32
    assert stats["generated"] == 9 and stats["repeated_gold"] == 9
    assert sorted(r["meta"].get("epoch", 1) for r in gold) == [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3
    assert len({r["id"] for r in kept}) == 32                      # copies get ids of their own
    assert gold[3]["id"] == gold[0]["id"] + "-e2" and gold[3]["messages"] == gold[0]["messages"]


def test_repeat_fills_a_weighted_share_with_a_partial_last_epoch(tmp_path):
    # gold gets 10 of 20 places: its 3 records cover them in 4 epochs (3+3+3+1)
    run(two_inputs(tmp_path, {"weights": {"gold": 1, "bulk": 1}, "total": 20, "repeat": {"gold": 4}}),
        tmp_path / "out")
    kept, rejected, stats = stage_out(tmp_path / "out", "mix")
    gold = [r for r in kept if r["messages"][0]["content"].startswith("gold")]
    assert len(gold) == 10 and len(kept) == 20 and len(rejected) == 10
    assert [r["meta"].get("epoch", 1) for r in gold].count(4) == 1


def test_repeat_beyond_four_epochs_needs_max_epochs(tmp_path):
    with pytest.raises(ConfigError, match="about 4 epochs"):
        run(two_inputs(tmp_path, {"repeat": {"gold": 6}}), tmp_path / "out")
    run(two_inputs(tmp_path, {"repeat": {"gold": 6}, "max_epochs": 8}), tmp_path / "out2")
    kept, _, _ = stage_out(tmp_path / "out2", "mix")
    assert len(kept) == 20 + 18


def test_repeat_names_an_input(tmp_path):
    with pytest.raises(ConfigError, match="not inputs"):
        run(two_inputs(tmp_path, {"repeat": {"silver": 2}}), tmp_path / "out")


@pytest.mark.parametrize("name, mix, total", [("tulu", "tulu_mix", 200), ("flacuna", "flan_mini", 120)])
def test_bundled_mixture_recipes(tmp_path, name, mix, total):
    from tests.conftest import ROOT, cli

    proc = cli("run", str(ROOT / "recipes" / f"{name}.yaml"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    kept, _, stats = stage_out(tmp_path / "out", mix)
    assert 0 < len(kept) <= total
    taken = {k[len("taken_"):]: v for k, v in stats.items() if k.startswith("taken_")}
    assert sum(taken.values()) == len(kept) and all(v > 0 for v in taken.values())
    assert (tmp_path / "out" / "export" / "dataset").is_dir()
