"""LaMini-LM's example- and topic-guided generation (`lamini_instruct`) and Phi-1's educational-value filter."""

from __future__ import annotations

from collections import Counter

from pipeline.ops.lamini_instruct import parse_examples
from pipeline.prompts import load_prompt
from tests.conftest import ROOT
from tests.methods.conftest import check_resume, pairs, run_bundled, run, stage_out, write_recipe, write_rows

SEEDS = ROOT / "sources" / "samples" / "self_instruct_seed_tasks.jsonl"


def test_prompt_golden_example_and_topic_guided():
    prompt = load_prompt("lamini_instruct")
    ex = ["What are some things you can do to de-stress?", "Write a haiku about {{ rain }}."]
    assert prompt.render(examples=ex, total=20, topics=[]) == (
        "<example>What are some things you can do to de-stress?</example>\n"
        "<example>Write a haiku about {{ rain }}.</example>\n\n"
        "Write 20 new and varied examples in the spirit of the examples above.\n"
        "Only the instruction is wanted: do not answer the examples you write.\n"
        "Every example is one instruction, phrased either as a command or as a question.\n"
        'Put every example between the label "<example>" and the label "</example>".\n')
    topical = prompt.render(examples=ex, total=20, topics=["Design bureaus", "Conidae", "Infantry"])
    assert 'above, each one about one of these topics: "Design bureaus", "Conidae", "Infantry".\n' in topical


def test_parse_examples():
    text = "Sure!\n<example>Name a river.</example>\n<example> List two metals.\n</example><example>Cut off"
    assert parse_examples(text) == ["Name a river.", "List two metals.", "Cut off"]
    assert parse_examples("1. Name a river.") == []


def lamini_recipe(folder, server, topics=None, requests=3):
    stage = {"id": "gen", "op": "lamini_instruct", "inputs": ["seeds"], "requests": requests, "seed": 2}
    if topics:
        stage["topics"] = topics
    return write_recipe(folder, server.base_url, [
        {"id": "seeds", "op": "ingest", "source": "self_instruct_seeds", "path": str(SEEDS)}, stage])


def test_example_guided_run(tmp_path, server):
    run(lamini_recipe(tmp_path, server), tmp_path / "out")
    kept, rejected, stats = stage_out(tmp_path / "out", "gen")
    reasons = Counter(r["reason"] for r in rejected)
    assert reasons["echoed_example"] == 3 and reasons["too_short"] == 3
    assert stats["consumed"] == 175 and stats["generated"] == 60
    assert kept and all(r["meta"]["guidance"] == "example" and len(r["messages"]) == 1 for r in kept)
    assert any(r["messages"][0]["content"].startswith("Draft an email") or "," in r["messages"][0]["content"]
               for r in kept)


def test_topic_guided_run_records_topics(tmp_path, server):
    topics = ["Glaciology", "Renaissance music", "Urban gardening", "Cryptography"]
    run(lamini_recipe(tmp_path, server, topics), tmp_path / "out")
    kept, _, _ = stage_out(tmp_path / "out", "gen")
    assert all(r["meta"]["guidance"] == "topic" and len(r["meta"]["topics"]) == 3 for r in kept)
    assert all(set(r["meta"]["topics"]) <= set(topics) for r in kept)


def test_lamini_sigkill_then_resume(tmp_path, server):
    check_resume(tmp_path, server, lambda folder: lamini_recipe(folder, server, requests=12), "gen", 5, 0.05)


ROWS = pairs(
    ("Explain recursion.", "Recursion is when a function calls itself. Step 1: find the base case..."),
    ("Show the settings.", "config: {timeout: 30, retries: 2} TODO"),
    ("What is a list in Python?", "A list holds items in order; for example [1, 2, 3]."),
)


def test_edu_value_filters_low_and_reports_share(tmp_path, server):
    data = write_rows(tmp_path / "r.jsonl", ROWS + [[{"role": "user", "content": "Open?"}]])
    recipe = write_recipe(tmp_path, server.base_url, [{"id": "edu", "op": "edu_value", "inputs": ["in"]}],
                          data=data)
    run(recipe, tmp_path / "out")
    kept, rejected, stats = stage_out(tmp_path / "out", "edu")
    assert [r["messages"][0]["content"] for r in kept] == ["Explain recursion.", "What is a list in Python?"]
    assert [r["reason"] for r in rejected] == ["low_educational_value", "incomplete"]
    assert kept[0]["meta"]["scores"]["edu_value"] == 1
    assert stats["edu_value"] == round(2 / 3, 4)
    assert all("a student whose goal is to learn basic coding concepts" in c.messages[0]["content"]
               for c in server.calls)


def test_bundled_lamini_phi1_recipe_and_dry_run(tmp_path, server):
    run_bundled(tmp_path, server, "lamini_phi1")
    for stage in ("examples", "topics", "answers", "edu"):
        stage_out(tmp_path / "out", stage)
