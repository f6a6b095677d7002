"""The pure parts of the scoring ops: verdicts, Deita combination, tag normalisation, pair ranking."""

import math
from pathlib import Path

import pytest

from pipeline.llm.types import Reply, Request
from pipeline.ops.base import StageContext
from pipeline.ops.score_deita import combine, parse_deita, turn_pairs
from pipeline.ops.judge import score_key, verdict
from pipeline.ops.pairs import PairsParams, group, rank
from pipeline.record import Record, Rejected
from pipeline.scoring.ask import Outcome, reply_failure
from pipeline.scoring.parse import Failure
from pipeline.scoring.tags import TagVocabulary, clean_tag, coverage, tag_key


def rec(*turns, system=None, **meta):
    msgs = [{"role": "system", "content": system}] if system else []
    for i, t in enumerate(turns):
        msgs.append({"role": "user" if i % 2 == 0 else "assistant", "content": t})
    return Record.new(msgs, meta)


def reply(text, finish="stop", raw=None, **kw):
    return Reply(Request.chat([{"role": "user", "content": "x"}]), text, finish, raw=raw, **kw)


# -- judge -----------------------------------------------------------------------------------
def test_verdict_keeps_at_threshold_and_rejects_below_with_score_kept():
    r = rec("Q", "A", scores={"other": 1})
    kept = verdict(r, Outcome((4.5, "fine"), raw=["4.5\nfine"]), "accuracy", 4.5)
    assert isinstance(kept, Record) and kept.id == r.id
    assert kept.meta["scores"] == {"other": 1, "accuracy": 4.5, "accuracy_explanation": "fine"}
    assert r.meta["scores"] == {"other": 1}                      # input not mutated
    low = verdict(r, Outcome((4.0, "meh"), raw=["4\nmeh"]), "accuracy", 4.5)
    assert isinstance(low, Rejected) and low.reason == "below_threshold"
    assert low.detail == "accuracy 4 < 4.5" and low.record.meta["scores"]["accuracy"] == 4.0


def test_verdict_failure_fails_closed_with_raw():
    out = Outcome(failure=Failure("out_of_range", "the score 11 is outside 0 to 5"), raw=["11", "11", "9/10"])
    got = verdict(rec("Q", "A"), out, "accuracy", 4.5)
    assert isinstance(got, Rejected) and got.reason == "judge_out_of_range"
    assert got.to_dict()["raw"] == ["11", "11", "9/10"]
    err = verdict(rec("Q", "A"), Outcome(failure=Failure("llm_error", "HTTP 400"), raw=[]), "accuracy", 4.5)
    assert err.reason == "llm_error" and err.counter == "dropped_llm_error"


def test_score_key():
    assert score_key("accuracy", None) == "accuracy"
    assert score_key("how well it cites sources", None) == "judge"
    assert score_key("how well it cites sources", "citations") == "citations"


@pytest.mark.parametrize("r,code", [
    (reply("4", finish="length"), "incomplete"),
    (reply("4", finish="content_filter"), "incomplete"),
    (reply("", finish="stop"), "empty"),
    (reply(None, finish="stop"), "empty"),
    (reply("I can't help", refusal="I can't help with that"), "refusal"),
    (reply("I cannot help with that request."), "refusal"),
])
def test_reply_failures(r, code):
    assert reply_failure(r).code == code


def test_reply_ok():
    assert reply_failure(reply("4\nfine")) is None


# -- deita -----------------------------------------------------------------------------------
def test_turn_pairs_multi_turn_and_open():
    r = rec("q1", "a1", "q2", "a2", system="sys")
    assert turn_pairs(r) == [("q1", "a1"), ("q2", "a2")]
    assert turn_pairs(rec("q1", "a1", "q2")) == [("q1", "a1"), ("q2", None)]


def test_combine_sums_products_over_answered_turns():
    assert combine([2.0, 4.0], [3.0, 5.0]) == {"deita_complexity": 3.0, "deita_quality": 4.0,
                                               "deita_score": 26.0}
    assert combine([2.0, 4.0], [3.0, None]) == {"deita_complexity": 3.0, "deita_quality": 3.0,
                                                "deita_score": 6.0}
    assert combine([5.0], []) == {"deita_complexity": 5.0}
    assert combine([], [4.0]) == {"deita_quality": 4.0}


def test_parse_deita_prefers_logprobs_then_text():
    top = [{"token": "5", "logprob": math.log(0.75)}, {"token": "6", "logprob": math.log(0.25)}]
    first = {"token": "5", "logprob": math.log(0.75), "top_logprobs": top}
    raw = {"choices": [{"logprobs": {"content": [first]}}]}
    assert parse_deita(reply("5", raw=raw)) == (5.25, "logprobs")
    assert parse_deita(reply("5", raw={"choices": [{"message": {"content": "5"}}]})) == (5.0, "text")
    assert parse_deita(reply("7")).code == "out_of_range"
    assert parse_deita(reply("0")).code == "out_of_range"
    # logprobs never rescue an unusable text
    assert parse_deita(reply("very complex", raw=raw)).code == "unparsable"


# -- tags ------------------------------------------------------------------------------------
def test_clean_and_key():
    assert clean_tag("  Code-Debugging! ") == "code debugging"
    assert clean_tag("Data_Analysis") == "data analysis"
    assert clean_tag("C++ Programming") == "c++ programming"
    assert clean_tag("数学 问题") == "数学 问题"
    assert clean_tag("!!!") == ""
    assert tag_key("programs") == tag_key("programming") == "program"
    assert tag_key("mathematical reasoning") == tag_key("mathematics reasoning")


def test_vocabulary_merges_by_stem_and_drops_rare():
    v = TagVocabulary()
    a = v.add(["Math Problems", "coding", "Coding!"])
    b = v.add(["math problem", "Travel"])
    c = v.add(["math problem"])
    assert a == ["math problems", "coding", "coding"]
    assert v.normalise(a) == ["math problem", "coding"]          # most frequent form shown
    assert v.normalise(b) == ["math problem", "travel"]
    assert v.normalise(b, min_count=2) == ["math problem"]
    assert v.normalise(c) == ["math problem"]
    assert v.counts() == {"math problem": 3, "coding": 1, "travel": 1}
    assert v.counts(min_count=2) == {"math problem": 3}


def test_coverage():
    assert coverage(["Math problem", "coding"], ["math problems", "coding", "travel", "poetry"]) == 0.5
    assert coverage([], ["a"]) == 0.0 and coverage(["a"], []) == 0.0


# -- pairs -----------------------------------------------------------------------------------
def ctx(tmp_path: Path) -> StageContext:
    return StageContext("pairs", "pairs", tmp_path, tmp_path)


class Input(list):
    count = property(len)


def test_group_by_prompt_with_duplicates_and_open_records():
    a1, a2, a3 = rec("Q", "A1", model="m1"), rec("Q", "A2", model="m2"), rec("Q", " A1 ", model="m3")
    b1, open_ = rec("R", "B1"), rec("Q")
    items = list(group([Input([a1, b1, open_]), Input([a2, a3])]))
    assert [i.reason for i in items if isinstance(i, Rejected)] == ["incomplete", "duplicate_response"]
    assert items[1].extra == {"duplicate_of": a1.id}
    assert [g for g in items if isinstance(g, list)] == [[a1, a2], [b1]]


def scored(*pairs):
    return [Outcome((s, f"why {s}"), raw=[f"{s}"]) for s in pairs]


def test_rank_best_and_worst_make_the_pair(tmp_path):
    c = ctx(tmp_path)
    members = [rec("Q", "A1", model="m1"), rec("Q", "A2", model="m2"), rec("Q", "A3", model="m3")]
    out = list(rank(c, members, scored(3.0, 5.0, 1.5), PairsParams(), "helpfulness"))
    assert [type(x).__name__ for x in out] == ["Rejected", "Record"]
    assert out[0].reason == "not_chosen" and out[0].record.id == members[0].id
    pair = out[1]
    assert pair.messages == members[1].messages
    assert pair.meta["chosen"] == {"id": members[1].id, "score": 5.0, "explanation": "why 5.0", "model": "m2"}
    assert pair.meta["rejected"] == {"id": members[2].id, "score": 1.5, "explanation": "why 1.5",
                                     "model": "m3", "content": "A3"}
    assert pair.meta["parents"] == [members[1].id, members[2].id]
    assert pair.meta["scores"]["helpfulness"] == 5.0 and pair.meta["stage"] == "pairs"
    assert c.counters["consumed"] == 1


def test_rank_margin_threshold_and_failures(tmp_path):
    members = [rec("Q", "A1"), rec("Q", "A2")]
    tie = list(rank(ctx(tmp_path), members, scored(4.0, 3.5), PairsParams(), "h"))
    assert [x.reason for x in tie] == ["no_margin", "no_margin"]
    low = list(rank(ctx(tmp_path), members, scored(3.0, 1.0), PairsParams(min_chosen=4), "h"))
    assert [x.reason for x in low] == ["chosen_below_threshold"] * 2
    failed = [Outcome(failure=Failure("unparsable", "x"), raw=["meh"])] + scored(5.0)
    got = list(rank(ctx(tmp_path), members, failed, PairsParams(), "h"))
    assert [x.reason for x in got] == ["judge_unparsable", "too_few_responses"]
