"""SelFee's parsing and clean-ups (golden cases), and its revision loop's limits end to end."""

from __future__ import annotations

from pipeline.chat import selfee
from tests.chat.conftest import results, run, write_recipe, write_rows


def test_verdict_decides_then_the_score():
    assert selfee.parse_feedback("Fine overall. Revision is not needed.")[1] is False
    assert selfee.parse_feedback("Missing units.\nRevision is needed")[1] is True
    # no verdict: SelFee's "below 9 should be revised"
    assert selfee.parse_feedback("Clear and correct. Score: 9/10")[1] is False
    assert selfee.parse_feedback("I would rate it 7 out of 10.")[1] is True
    assert selfee.parse_feedback("Rating: 8")[1] is True
    assert selfee.parse_feedback("Looks fine, I guess.")[1] is None
    assert selfee.feedback_score("Quality score: 10/10. Revision is not needed.") == 10


def test_clean_ups_as_selfee():
    assert selfee.clean_revision("Revised answer:\nPlants use light.") == "Plants use light."
    # a trailing sentence about the revision goes, repeatedly, with trailing empty lines
    assert selfee.clean_revision("Plants use light. This revision adds detail.\n\nNo further revision needed.") \
        == "Plants use light."
    # a leading apology sentence goes
    assert selfee.clean_revision("I apologize for the error. Water boils at 100 C.") == "Water boils at 100 C."
    assert selfee.clean_revision("Revision of the plan:\n1. Mix.\n2. Bake.") == "Revision of the plan:\n1. Mix.\n2. Bake."
    assert selfee.is_na("N/A") and not selfee.is_na("n/a in the table means missing")


def test_chain_layout():
    steps = [{"answer": "A0", "feedback": "F1"}, {"answer": "A1", "feedback": "F2"}, {"answer": "A2"}]
    assert selfee.chain_text(steps) == ("A0\n\n### Feedback 1:\nF1\n\n### Revision 1:\nA1\n\n### Feedback 2:\nF2"
                                        "\n\n### Revision 2:\nA2")


def test_four_revisions_at_most_and_na_stops(tmp_path, server):
    rows = [[{"role": "user", "content": "A stubborn question."}],
            [{"role": "user", "content": "A question with nothing to add."}]]
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "refine", "op": "self_refine", "inputs": ["in"], "target": "final", "keep_chain": True}],
        data=write_rows(tmp_path / "r.jsonl", rows))
    run(recipe, tmp_path / "out")
    kept, rejected, _ = results(tmp_path / "out", "refine")
    assert not rejected
    by = {r["messages"][0]["content"]: r["meta"] for r in kept}
    stubborn = by["A stubborn question."]
    # SelFee: four revisions, each answer followed by a critique (five critiques)
    assert (stubborn["revisions"], stubborn["termination_reason"]) == (4, "max_revisions")
    assert len(stubborn["refine_chain"]) == 5 and stubborn["feedback_scores"] == [5] * 5
    na = by["A question with nothing to add."]
    assert (na["revisions"], na["termination_reason"]) == (0, "revision_na")
    revise = [c for c in server.calls if c.last_user.startswith("Revise the answer")
              and "stubborn" in c.messages[0]["content"]]
    # the first two revisions read "as if first", later ones do not; the chat is fresh after two
    assert [("first attempt" in c.last_user) for c in revise] == [True, True, False, False]
    assert [len(c.messages) for c in revise] == [3, 7, 3, 3]
