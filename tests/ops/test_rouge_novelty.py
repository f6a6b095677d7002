"""The `rouge_novelty` op end to end: CLI stage, recipes, Chinese text, parameters."""

import json
import random

import pytest

from pipeline.errors import ConfigError
from pipeline.novelty.reference import ReferencePool, near_duplicate
from pipeline.ops.rouge_novelty import RougeNoveltyParams, compared_text
from pipeline.recipe import build_recipe
from pipeline.record import Record
from pipeline.runner import Runner
from tests.conftest import FIXTURES, cli

DATA = FIXTURES / "novelty"


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]


def with_near_duplicates(texts: list[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = list(texts)
    for _ in range(n):
        src = rng.choice(texts)
        out.insert(out.index(src) + 1 + rng.randrange(3), near_duplicate(src, rng, texts))
    return out


def write_records(path, texts: list[str]) -> list[Record]:
    recs = [Record.new([{"role": "user", "content": t}, {"role": "assistant", "content": f"answer {i}"}])
            for i, t in enumerate(texts)]
    path.write_text("".join(r.to_json() + "\n" for r in recs), encoding="utf-8")
    return recs


def read(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_stage_cli_keeps_what_rouge_score_keeps_and_names_the_similar_record(tmp_path):
    texts = with_near_duplicates([r["instruction"] for r in rows("alpaca_1500.jsonl")[:400]], 120, seed=4)
    recs = write_records(tmp_path / "in.jsonl", texts)
    ref = ReferencePool()
    expected = [ref.check_and_add(t) for t in texts]
    out = tmp_path / "out.jsonl"
    cli("stage", "rouge_novelty", "-i", str(tmp_path / "in.jsonl"), "-o", str(out), "-p", "top_k=2", check=True)

    kept, rejected = read(out), read(tmp_path / "out.jsonl.run" / "main" / "rejected.jsonl")
    assert [r["id"] for r in kept] == [r.id for r, keep in zip(recs, expected) if keep]
    assert (len(kept), len(rejected)) == (400, 120)
    stats = json.loads((tmp_path / "out.jsonl.run" / "main" / "stats.json").read_text())
    assert (stats["records_in"], stats["records_out"], stats["dropped_too_similar"]) == (520, 400, 120)
    position = {r.id: i for i, r in enumerate(recs)}
    kept_ids = {r["id"] for r in kept}
    for rej in rejected:
        assert rej["reason"] == "too_similar" and rej["rouge_l"] > 0.7
        assert rej["similar_to"] in kept_ids and position[rej["similar_to"]] < position[rej["record"]["id"]]
        assert f"ROUGE-L F1 {rej['rouge_l']!r} > 0.7 against kept record {rej['similar_to']}" == rej["detail"]
    for rec in kept:
        sims = rec["meta"]["most_similar"]
        assert len(sims) <= 2 and all(s["id"] in kept_ids and 0 < s["score"] <= 0.7 for s in sims)
        assert 0 <= rec["meta"]["avg_similarity"] < 0.7
    assert kept[0]["meta"]["most_similar"] == [] and kept[0]["meta"]["avg_similarity"] == 0.0

    again = cli("stage", "rouge_novelty", "-i", str(tmp_path / "in.jsonl"), "-o", str(out), "-p", "top_k=2",
                check=True)
    assert "nothing to do" in again.stderr and len(read(out)) == 400


def test_recipe_compares_later_inputs_with_kept_records_of_earlier_ones(tmp_path):
    seeds = [r["instruction"] for r in rows("alpaca_1500.jsonl")[:100]]
    write_records(tmp_path / "seeds.jsonl", seeds)
    generated = [near_duplicate(s, random.Random(i), seeds) for i, s in enumerate(seeds[:30])] + \
        [r["instruction"] for r in rows("alpaca_1500.jsonl")[100:130]]
    write_records(tmp_path / "generated.jsonl", generated)
    recipe = {"name": "novelty", "stages": [
        {"id": "seeds", "op": "ingest", "source": "messages", "path": str(tmp_path / "seeds.jsonl")},
        {"id": "generated", "op": "ingest", "source": "messages", "path": str(tmp_path / "generated.jsonl")},
        {"id": "novel", "op": "rouge_novelty", "inputs": ["seeds", "generated"], "top_k": 0}]}
    Runner(build_recipe(recipe, tmp_path), tmp_path / "run").run()
    stats = json.loads((tmp_path / "run" / "novel" / "stats.json").read_text())
    assert (stats["records_in"], stats["records_out"], stats["rejected"]) == (160, 130, 30)
    kept = read(tmp_path / "run" / "novel" / "data.jsonl")
    assert [r["messages"][0]["content"] for r in kept[:100]] == seeds
    assert all("most_similar" not in r["meta"] and "avg_similarity" in r["meta"] for r in kept)


def test_chinese_near_duplicates_rejected_and_tokenless_text_counted(tmp_path):
    texts = with_near_duplicates([r["instruction"] for r in rows("coig_cqia_ruozhiba_80.jsonl")], 40, seed=8)
    write_records(tmp_path / "zh.jsonl", texts)
    cli("stage", "rouge_novelty", "-i", str(tmp_path / "zh.jsonl"), "-o", str(tmp_path / "auto.jsonl"), check=True)
    cli("stage", "rouge_novelty", "-i", str(tmp_path / "zh.jsonl"), "-o", str(tmp_path / "rouge.jsonl"),
        "-p", "tokenizer=rouge", check=True)
    auto = json.loads((tmp_path / "auto.jsonl.run" / "main" / "stats.json").read_text())
    rouge = json.loads((tmp_path / "rouge.jsonl.run" / "main" / "stats.json").read_text())
    assert (auto["records_out"], auto["dropped_too_similar"], auto.get("no_tokens", 0)) == (80, 40, 0)
    assert (rouge["records_out"], rouge["dropped_too_similar"], rouge["no_tokens"]) == (115, 5, 104)
    originals = {r["messages"][0]["content"] for r in read(tmp_path / "auto.jsonl")}
    assert originals == {r["instruction"] for r in rows("coig_cqia_ruozhiba_80.jsonl")}


def test_compared_text_choices():
    rec = Record.new([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q1"},
                      {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"},
                      {"role": "assistant", "content": "A2"}])
    assert compared_text(rec, "instruction") == "Q1"
    assert compared_text(rec, "user") == "Q1\nQ2"
    assert compared_text(rec, "response") == "A1\nA2"
    assert compared_text(rec, "conversation") == "Q1\nA1\nQ2\nA2"


def test_response_side_and_threshold_parameters(tmp_path):
    texts = [r["instruction"] for r in rows("alpaca_1500.jsonl")[:50]]
    recs = [Record.new([{"role": "user", "content": f"Please help with task {i}."},
                        {"role": "assistant", "content": t}]) for i, t in enumerate(texts + texts[:5])]
    (tmp_path / "in.jsonl").write_text("".join(r.to_json() + "\n" for r in recs), encoding="utf-8")
    for on, threshold, out in (("instruction", 0.7, 1), ("response", 0.7, 50), ("response", 1.0, 55)):
        dest = tmp_path / f"{on}-{threshold}.jsonl"
        cli("stage", "rouge_novelty", "-i", str(tmp_path / "in.jsonl"), "-o", str(dest), "-p", f"field={on}",
            "-p", f"threshold={threshold}", check=True)
        assert len(read(dest)) == out


def test_bad_parameters_are_config_errors(tmp_path):
    with pytest.raises(ValueError):
        RougeNoveltyParams(threshold=1.5)
    stage = {"id": "in", "op": "ingest", "source": "messages", "path": str(tmp_path / "x.jsonl")}
    for bad, message in (({"threshold": 2}, "stages[1].threshold"), ({"field": "answer"}, "stages[1].field"),
                         ({"treshold": 0.5}, "did you mean threshold")):
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            build_recipe({"name": "x", "stages": [stage, {"id": "n", "op": "rouge_novelty",
                                                           "inputs": ["in"], **bad}]}, tmp_path)
