"""The `review` op applies recorded decisions in a real `instructpipe run`, re-running only what it must."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.review.decisions import append_decisions, decisions_path, make_decision
from tests.conftest import cli
from tests.review.conftest import make_run


def ids_by_question(run: Path, stage: str) -> dict[str, str]:
    out = {}
    for name, inner in (("data.jsonl", False), ("rejected.jsonl", True)):
        for line in (run / stage / name).read_text().splitlines():
            obj = json.loads(line)
            rec = obj["record"] if inner else obj
            out[rec["messages"][0]["content"]] = rec["id"]
    return out


def decide(run: Path, rid: str, action: str, reviewer: str = "ann", **kw) -> None:
    append_decisions(decisions_path(run, "filter"), [make_decision(rid, action, reviewer, **kw)])


def exported(run: Path) -> list[list[dict]]:
    lines = (run / "export" / "dataset" / "train.jsonl").read_text().splitlines()
    return [json.loads(x)["messages"] for x in lines]


def test_decisions_reach_the_export_and_only_review_and_export_rerun(tmp_path):
    recipe, run = make_run(tmp_path / "p")
    cli("run", str(recipe), "--out", str(run), check=True)
    before = exported(run)
    assert len(before) == 7
    ids = ids_by_question(run, "filter")
    decide(run, ids["Name three primary colours."], "reject", reason="too obvious")
    new_answer = [{"role": "user", "content": "What is the capital of France?"},
                  {"role": "assistant", "content": "Paris, on the Seine."}]
    decide(run, ids["What is the capital of France?"], "edit", messages=new_answer)
    decide(run, ids["Translate 'cat' to German."], "accept")          # restore a rejected record
    decide(run, ids["Why is the sky blue?"], "flag", reviewer="bob")   # a flag decides nothing
    decide(run, ids["List two prime numbers."], "reject", reviewer="bob", reason="dull")
    decide(run, ids["List two prime numbers."], "accept", reviewer="ann")  # newest verdict wins

    proc = cli("run", str(recipe), "--out", str(run), check=True)
    assert "[src] done, skipped" in proc.stderr and "[filter] done, skipped" in proc.stderr
    assert "[review] review: running" in proc.stderr and "[export] export: running" in proc.stderr

    after = exported(run)
    expected = [m for m in before if m[0]["content"] != "Name three primary colours."]
    expected = [new_answer if m[0]["content"] == "What is the capital of France?" else m for m in expected]
    expected.append([{"role": "user", "content": "Translate 'cat' to German."},
                     {"role": "assistant", "content": "Katze."}])
    assert after == expected

    kept = {json.loads(x)["messages"][0]["content"]: json.loads(x)
            for x in (run / "review" / "data.jsonl").read_text().splitlines()}
    edited = kept["What is the capital of France?"]
    assert edited["meta"]["parents"] == [ids["What is the capital of France?"]]
    assert edited["meta"]["edited_by"] == "ann" and edited["id"] != ids["What is the capital of France?"]
    assert kept["Translate 'cat' to German."]["meta"]["restored"] == {"reason": "response_too_short",
                                                                       "reviewer": "ann"}
    rejected = [json.loads(x) for x in (run / "review" / "rejected.jsonl").read_text().splitlines()]
    assert [(r["reason"], r["detail"], r["reviewer"]) for r in rejected] == [("reviewer_rejected", "too obvious", "ann")]
    stats = json.loads((run / "review" / "stats.json").read_text())
    assert stats["records_in"] + stats["generated"] == stats["records_out"] + stats["rejected"]
    assert (stats["records_in"], stats["generated"], stats["records_out"], stats["rejected"]) == (7, 1, 7, 1)

    again = cli("run", str(recipe), "--out", str(run), check=True)
    assert "nothing to do" in again.stderr


def test_unreviewed_drop_rejects_what_nobody_decided(tmp_path):
    recipe, run = make_run(tmp_path / "p", unreviewed="drop")
    ids = ids_by_question(run, "filter")
    decide(run, ids["Why is the sky blue?"], "accept")
    cli("run", str(recipe), "--out", str(run), check=True)
    assert [m[0]["content"] for m in exported(run)] == ["Why is the sky blue?"]
    stats = json.loads((run / "review" / "stats.json").read_text())
    assert stats["dropped_unreviewed"] == 6 and stats["review_accepted"] == 1


def test_unreviewed_hold_keeps_the_stage_partial_until_all_are_reviewed(tmp_path):
    recipe, run = make_run(tmp_path / "p", unreviewed="hold")
    ids = ids_by_question(run, "filter")
    decide(run, ids["Why is the sky blue?"], "accept")
    proc = cli("run", str(recipe), "--out", str(run))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: stage review: 6 records of filter await review")
    states = {r["id"]: r["state"] for r in json.loads(cli("status", str(run), "--json", check=True).stdout)}
    assert states["review"] == "partial" and states["export"] == "pending"
    kept = json.loads((run / "filter" / "data.jsonl").read_text().splitlines()[0])
    for line in (run / "filter" / "data.jsonl").read_text().splitlines():
        rid = json.loads(line)["id"]
        if rid != ids["Why is the sky blue?"]:
            decide(run, rid, "accept" if rid != kept["id"] else "reject")
    cli("run", str(recipe), "--out", str(run), check=True)
    assert len(exported(run)) == 6


def test_from_and_inputs_must_agree(tmp_path):
    recipe, run = make_run(tmp_path / "p")
    text = recipe.read_text().replace("    from: filter\n", "    from: src\n    inputs: [filter]\n")
    recipe.write_text(text)
    proc = cli("run", str(recipe), "--out", str(run))
    assert proc.returncode == 1 and "from: 'src' is not this stage's input ('filter')" in proc.stderr
