"""`lima`: LIMA's Stack Exchange / wikiHow curation rules on realistic answers, and its tempered sampling."""

from __future__ import annotations

import random
from collections import Counter

from pipeline.filters.lima import first_person, refers_to_other_answer, strip_links, tempered_shares
from pipeline.ops.lima import tempered_sample
from tests.methods.conftest import run, stage_out, write_recipe, write_rows

BODY = ("The short version: use a context manager. `with open(path) as f:` closes the file even when the "
        "block raises, because the file object's `__exit__` runs on the way out. ") * 10


def se_row(q: str, a: str, score: int, site: str, title: str | None = None) -> dict:
    meta = {"score": score, "site": site, **({"title": title} if title else {})}
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}], "meta": meta}


def test_answer_rules_on_realistic_text():
    assert first_person("In my experience the GIL is rarely the bottleneck.") == "my"
    assert first_person("I'd use numpy here.") == "I'd"
    assert first_person("We can see that the loop is O(n).") is None          # impersonal plural kept
    assert first_person("```\nfor I in range(3): print(I)\n```\nIt prints three lines.") is None
    assert refers_to_other_answer("As the accepted answer says, use a set.") == "accepted answer"
    assert refers_to_other_answer("Like @martineau noted, it is stable.") == "Like @martineau"
    assert refers_to_other_answer("The answer is 42.") is None


def test_links_images_and_html_stripped_but_code_and_lists_kept():
    text = ("See [the docs](https://docs.python.org/3/) and https://example.com/x for more.\n"
            "![diagram](https://i.imgur.com/a.png)<img src='b.png'> <b>Bold</b> <a href='u'>anchor</a>\n"
            "<ul><li>one</li></ul>\n```python\nurl = 'https://keep.me/[x](y)'\n```")
    assert strip_links(text) == ("See the docs and for more.\n Bold anchor\n<ul><li>one</li></ul>\n"
                                 "```python\nurl = 'https://keep.me/[x](y)'\n```")


def test_temperature_flattens_the_site_distribution():
    shares = tempered_shares({"stackoverflow": 800, "math": 100, "cooking": 27}, 3.0)
    assert round(shares["stackoverflow"], 3) == round(9.283 / (9.283 + 4.642 + 3.0), 3)
    assert tempered_shares({"a": 8, "b": 1}, 1.0) == {"a": 8 / 9, "b": 1 / 9}
    groups = {"so": list(range(0, 80)), "math": list(range(80, 90)), "cook": list(range(90, 93))}
    scores = [float(i % 17) for i in range(93)]
    picked = tempered_sample(groups, scores, 30, 3.0, random.Random(1))
    by_group = Counter("so" if i < 80 else "math" if i < 90 else "cook" for i in picked)
    assert by_group["so"] < 24 and by_group["cook"] >= 1                       # 80/93 untempered
    so = [i for i in picked if i < 80]
    assert [scores[i] for i in so] == sorted((scores[i] for i in so), reverse=True)   # best first


def test_lima_stage_keeps_counts_and_reasons(tmp_path):
    long_fp = "I think " + BODY
    rows = [se_row("How do I close files safely?", BODY, 25, "stackoverflow", "Closing files in Python"),
            se_row("Low votes?", BODY, 3, "stackoverflow"),
            se_row("Short?", "Use with.", 50, "stackoverflow"),
            se_row("Long?", BODY * 4, 50, "stackoverflow"),
            se_row("First person?", long_fp, 50, "superuser"),
            se_row("Other answer?", "As the other answer says, " + BODY, 50, "superuser"),
            se_row("Linked?", BODY + " Details at [PEP 343](https://peps.python.org/pep-0343/).", 12, "math"),
            {"messages": [{"role": "user", "content": "No votes?"}, {"role": "assistant", "content": BODY}]}]
    data = write_rows(tmp_path / "se.jsonl", rows)
    recipe = write_recipe(tmp_path, "http://127.0.0.1:9", [
        {"id": "lima", "op": "lima", "inputs": ["in"]}], data=data)
    run(recipe, tmp_path / "out")
    kept, rejected, stats = stage_out(tmp_path / "out", "lima")
    assert [r["reason"] for r in rejected] == ["below_score", "too_short", "too_long", "first_person",
                                               "refers_to_other_answer", "no_score"]
    assert len(kept) == 2
    assert kept[1]["messages"][1]["content"].endswith("Details at PEP 343.")
    assert kept[1]["meta"]["parents"] and stats["sampled_math"] == 1


def test_bundled_recipe_and_dry_run(tmp_path):
    from tests.conftest import ROOT, cli

    recipe = str(ROOT / "recipes" / "lima.yaml")
    dry = cli("run", recipe, "--out", str(tmp_path / "dry"), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    proc = cli("run", recipe, "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    kept, rejected, stats = stage_out(tmp_path / "out", "lima")
    assert len(kept) == 12 and stats["dropped_not_sampled"] > 0
    cats = Counter(r["meta"]["category"] for r in kept)
    assert len(cats) >= 4            # tempered: the small categories get drawn too
