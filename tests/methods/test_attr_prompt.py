"""`attr_prompt` (AttrPrompt): LLM-written attribute values, the ambiguity filter, labelled texts."""

from __future__ import annotations

from collections import Counter

import yaml

from pipeline.ops.attr_prompt import ambiguous
from pipeline.prompts import load_prompt
from tests.methods.conftest import check_resume, run, stage_out, write_recipe

CLASSES = ["Sports", "Business", "Science"]


def test_prompts_golden():
    text = load_prompt("attrprompt_values").render(n=5, attribute="subtopic", task="news article", label="Sports")
    assert text == ('We are writing a varied collection of news articles in the category "Sports". List 5 different '
                    'values of the attribute "subtopic" that such a news article could have, each clearly specific '
                    'to the category "Sports".\n\nMake the values as diverse as you can; each should be a short '
                    'phrase. Answer with a numbered list only, one value per line.\n')
    gen = load_prompt("attrprompt_generate").render(task="news article", label="Sports",
                                                    requirements=[("subtopic", "Sports funding"), ("length", "short")])
    assert gen == ('Write a news article in the category "Sports". It must meet these requirements:\n'
                   "1. subtopic: Sports funding\n2. length: short\n\n"
                   "Write only the news article itself, with no title line, label or commentary.\n")


def test_ambiguity_filter():
    got = ambiguous({"Sports": ["Team records", "General trends"], "Science": ["general  trends!", "Lab work"]})
    assert got == {"general trends"}


def recipe(folder, server, **extra):
    return write_recipe(folder, server.base_url, [
        {"id": "attr", "op": "attr_prompt", "classes": CLASSES, "attributes": ["subtopic", "length", "mood"],
         "values": 5, "per_class": 4, "seed": 3, **extra}])


def test_run_writes_labelled_records_and_attributes(tmp_path, server):
    run(recipe(tmp_path, server), tmp_path / "out")
    kept, rejected, stats = stage_out(tmp_path / "out", "attr")
    assert Counter(r["reason"] for r in rejected) == {"ambiguous_value": 3, "unparsable_values": 1}
    assert Counter(r["meta"]["label"] for r in kept) == {c: 4 for c in CLASSES}
    for r in kept:
        assert r["messages"][1]["content"] == r["meta"]["label"]
        assert r["messages"][0]["content"].startswith("Which category does this news article belong to: "
                                                      "Sports, Business, Science?")
        assert r["meta"]["attributes"]["subtopic"].startswith(r["meta"]["label"])   # class-conditional
        assert "mood" not in r["meta"]["attributes"]
    values = yaml.safe_load((tmp_path / "out" / "attr" / "attributes.yaml").read_text())
    assert "General trends" not in values["subtopic"]["Sports"] and len(values["length"][""]) == 5


def test_sigkill_then_resume_and_dry_run(tmp_path, server):
    from tests.conftest import cli

    dry = cli("run", str(recipe(tmp_path, server)), "--out", str(tmp_path / "dry"), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert not server.hits
    check_resume(tmp_path, server, lambda folder: recipe(folder, server, per_class=8), "attr", 10)


def test_bundled_recipe(tmp_path, server):
    from tests.conftest import ROOT, cli

    proc = cli("run", str(ROOT / "recipes" / "attrprompt.yaml"), "--out", str(tmp_path / "out"),
               "--base-url", server.base_url)
    assert proc.returncode == 0, proc.stderr
    kept, rejected, _ = stage_out(tmp_path / "out", "attr")
    assert len(kept) == 20 and {r["reason"] for r in rejected} == {"ambiguous_value"}
