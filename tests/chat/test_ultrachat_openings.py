"""ultrachat_openings end to end: UltraChat's three sectors against the scripted fake server."""

from __future__ import annotations

import json
from collections import Counter

from tests.chat.conftest import lines, questions, results, run, write_recipe, write_rows


def openings(out, stage="open"):
    """(open records, rejected rows, stats): every record is one user turn waiting for its answer."""
    kept, rejected = lines(out / stage / "data.jsonl"), lines(out / stage / "rejected.jsonl")
    assert all([m["role"] for m in r["messages"]] == ["user"] for r in kept)
    stats = json.loads((out / stage / "stats.json").read_text())
    assert stats["records_out"] == len(kept) and stats["rejected"] == len(rejected)
    return kept, rejected, stats


def ledger(stats: dict) -> None:
    assert stats["records_in"] + stats["generated"] == \
        stats["records_out"] + stats["rejected"] + stats.get("consumed", 0)


def test_world_questions_from_meta_topics_subtopics_and_related(tmp_path, server):
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "open", "op": "ultrachat_openings", "meta_topics": ["Astronomy", "Unlistable things"],
         "subtopics": 2, "questions": 3, "related": 2},
        {"id": "talk", "op": "user_sim", "inputs": ["open"], "min_rounds": 2, "max_rounds": 2}])
    run(recipe, tmp_path / "out")
    kept, rejected, stats = openings(tmp_path / "out")
    ledger(stats)
    # 2 sub-topics x 3 questions, each with 2 related questions; the unlistable topic is rejected
    assert Counter(r["meta"]["kind"] for r in kept) == {"question": 6, "related": 12}
    assert [(r["reason"], r["where"]) for r in rejected] == [("unparsable", "Unlistable things")]
    first = kept[0]
    assert first["messages"] == [{"role": "user", "content": "Why does Astronomy corner 1 matter, part 1?"}]
    assert first["meta"]["meta_topic"] == "Astronomy" and first["meta"]["subtopic"] == "Astronomy corner 1"
    assert first["meta"]["sector"] == "world" and first["meta"]["prompt"] == "ultrachat_questions@1"
    assert kept[1]["meta"]["related_to"] == first["messages"][0]["content"]
    talks, _, _ = results(tmp_path / "out", "talk")
    assert len(talks) == 18 and all(r["meta"]["turns"] == 2 for r in talks)


def test_writing_instructions_mostly_expanded(tmp_path, server):
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "open", "op": "ultrachat_openings", "sector": "writing", "writing_types": ["poem", "speech"],
         "instructions": 10}])
    run(recipe, tmp_path / "out")
    kept, rejected, stats = openings(tmp_path / "out")
    ledger(stats)
    # "Write a poem about topic 1." repeats as topic 4, 7, 10 unless expanded differently: duplicates go
    assert {r["reason"] for r in rejected} <= {"duplicate"}
    expanded = [r for r in kept if "expanded_from" in r["meta"]]
    assert kept and 0.5 <= len(expanded) / len(kept) <= 1
    assert all(r["messages"][0]["content"].endswith("It is for new staff, in 200 words.") for r in expanded)
    assert {r["meta"]["writing_type"] for r in kept} == {"poem", "speech"}


def test_requests_about_materials_wrap_the_text(tmp_path, server):
    text = "Tides rise and fall twice a day because the Moon pulls on the oceans."
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "open", "op": "ultrachat_openings", "sector": "materials", "inputs": ["in"], "requests": 3}],
        data=write_rows(tmp_path / "m.jsonl", questions(text)))
    run(recipe, tmp_path / "out")
    kept, _, stats = openings(tmp_path / "out")
    ledger(stats)
    assert stats["consumed"] == 1 and len(kept) == 3
    assert all(text in r["messages"][0]["content"] and r["meta"]["request"] in r["messages"][0]["content"]
               for r in kept)
    assert all(len(r["meta"]["parents"]) == 1 for r in kept)


def test_bundled_topic_list_and_sector_inputs_checked(tmp_path, server):
    from pipeline.chat.ultrachat_sectors import load_topics

    topics = load_topics(None)
    assert len(topics["meta_topics"]) == 30 and len(topics["writing_types"]) == 20
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "open", "op": "ultrachat_openings", "sector": "world", "inputs": ["in"]}],
        data=write_rows(tmp_path / "m.jsonl", questions("x")))
    import pytest

    from pipeline.errors import ConfigError
    with pytest.raises(ConfigError, match="takes no inputs"):
        run(recipe, tmp_path / "out")


def test_sigkill_mid_stage_then_resume(tmp_path, server):
    from tests.chat.test_resume import kill_at

    stage = [{"id": "open", "op": "ultrachat_openings", "meta_topics": ["Astronomy", "Cooking", "Music"],
              "subtopics": 2, "questions": 3, "related": 2}]
    (tmp_path / "ref").mkdir()
    ref = write_recipe(tmp_path / "ref", server.base_url, stage, llm={"concurrency": 2})
    run(ref, tmp_path / "ref" / "out")
    want, _, _ = openings(tmp_path / "ref" / "out")
    asked = len(server.hits)
    server.reset_counts()
    server.latency = 0.01
    (tmp_path / "work").mkdir()
    recipe = write_recipe(tmp_path / "work", server.base_url, stage, llm={"concurrency": 2})
    kill_at(recipe, tmp_path / "work" / "out", server, 8)
    paid = dict(server.hits)
    run(recipe, tmp_path / "work" / "out")
    got, _, stats = openings(tmp_path / "work" / "out")
    ledger(stats)
    assert [r["id"] for r in got] == [r["id"] for r in want]          # same records, same order
    assert len(server.hits) == asked and max(server.hits.values()) <= 2
    assert stats["cached"] >= len(paid) - 2                          # at most the in-flight ones again


def test_bundled_recipe_and_dry_run(tmp_path, server):
    from tests.conftest import ROOT, cli

    recipe = str(ROOT / "recipes" / "ultrachat.yaml")
    dry = cli("run", recipe, "--out", str(tmp_path / "dry"), "--dry-run", "--base-url", server.base_url,
              env={"OPENAI_API_KEY": "sk-test"})
    assert dry.returncode == 0, dry.stderr
    assert not server.calls
    proc = cli("run", recipe, "--out", str(tmp_path / "u"), "--base-url", server.base_url,
               env={"OPENAI_API_KEY": "sk-test"})
    assert proc.returncode == 0, proc.stderr
    for stage in ("world", "writing"):
        ledger(openings(tmp_path / "u", stage)[2])
    talks, _, _ = results(tmp_path / "u", "world_talks")
    assert len(talks) == 24 and all(3 <= r["meta"]["turns"] <= 7 for r in talks)
    assert (tmp_path / "u" / "export" / "dataset" / "train.jsonl").exists()
