"""Agreement figures: Cohen's kappa, reviewers vs the stage verdict and judge scores, in the report."""

from __future__ import annotations

import pytest

from pipeline.report.agreement import cohen_kappa, compare, stage_agreement, thresholds
from pipeline.review.decisions import append_decisions, decisions_path, make_decision
from tests.conftest import cli
from tests.review.conftest import make_run


def test_cohen_kappa_matches_the_textbook_example():
    # 50 items: both yes 20, a yes/b no 5, a no/b yes 10, both no 15 -> po 0.7, pe 0.5, kappa 0.4
    a = ["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(["y", "n"], ["y", "n"]) == pytest.approx(1.0)
    assert cohen_kappa(["y", "y"], ["y", "y"]) == 1.0 and cohen_kappa([], []) is None


def test_stage_agreement_pairs_and_raters():
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    lines = [make_decision(r, act, who, messages=msgs if act == "edit" else None) for r, act, who in [
        ("a", "accept", "ann"), ("b", "reject", "ann"), ("c", "edit", "ann"), ("d", "flag", "ann"),
        ("a", "accept", "bob"), ("b", "accept", "bob"), ("c", "accept", "bob")]]
    facts = {"a": {"verdict": "accept", "scores": {"judge": 5}}, "b": {"verdict": "accept", "scores": {"judge": 4}},
             "c": {"verdict": "reject", "scores": {"judge": 2}}}
    out = stage_agreement(lines, facts, {"judge": 4.5})
    assert out["reviewers"] == ["ann", "bob"] and out["reviewed"] == 3
    pair = out["pairs"][0]
    assert (pair["a"], pair["b"], pair["n"]) == ("ann", "bob", 3) and pair["agree"] == pytest.approx(2 / 3)
    verdict, judge = out["raters"]
    # consensus (newest verdict): a accept, b accept (bob after ann), c accept
    assert verdict["table"] == {"accept": {"accept": 2, "reject": 1}, "reject": {"accept": 0, "reject": 0}}
    assert judge["name"] == "scores.judge >= 4.5 (judge threshold)"
    assert judge["table"]["accept"] == {"accept": 1, "reject": 2} and judge["agree"] == pytest.approx(1 / 3)
    assert compare({}, {})["agree"] is None


def test_thresholds_come_from_judge_stages():
    manifest = {"stages": {"j": {"op": "judge"}, "k": {"op": "judge"}, "m": {"op": "judge"}, "f": {"op": "filter"}},
                "recipe": {"stages": [{"id": "j", "threshold": 4.0, "key": "quality", "dimension": "accuracy"},
                                      {"id": "k", "threshold": 3.5, "key": None, "dimension": "helpfulness"},
                                      {"id": "m", "threshold": 2.0, "key": None, "dimension": "is it kind?"},
                                      {"id": "f"}]}}
    assert thresholds(manifest) == {"quality": 4.0, "helpfulness": 3.5, "judge": 2.0}


def test_report_shows_agreement_of_two_reviewers(tmp_path):
    recipe, run = make_run(tmp_path / "p")
    report = cli("report", str(run), "-o", str(tmp_path / "before.html"), check=True)
    assert report.returncode == 0
    assert 'id="agreement"' not in (tmp_path / "before.html").read_text()
    ids = [line.split('"id":"', 1)[1][:16] for line in (run / "filter" / "data.jsonl").read_text().splitlines()]
    lines = [make_decision(r, "accept" if i % 3 else "reject", who)
             for who in ("ann", "<b>bob</b>") for i, r in enumerate(ids)]
    append_decisions(decisions_path(run, "filter"), lines)
    cli("report", str(run), check=True)
    html = (run / "report.html").read_text()
    section = html.split('<section id="agreement">', 1)[1].split("</section>", 1)[0]
    assert "7 records reviewed by &lt;b&gt;bob&lt;/b&gt;, ann" in section
    assert "<td>&lt;b&gt;bob&lt;/b&gt; / ann</td><td>7</td><td>100%</td><td>1.00</td>" in section
    assert "stage verdict (kept = accept)" in section and "scores.judge" in section
