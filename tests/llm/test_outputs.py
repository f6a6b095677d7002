"""G5 35-36 (bad model outputs) through `respond`, and its pass-through, samples and system messages."""

from __future__ import annotations

import pytest

from tests.fake_openai import FakeReply, completion_body, ok
from tests.llm.conftest import COMPLETE_4, OPEN_60, check_ledger, read_lines, run_recipe, stats, write_recipe

BAD = "Are lilies safe for cats?"


def script(bad_reply):
    """`bad_reply` for the BAD instruction on every ask (re-asks included), `ok` for the others."""
    def fn(call):
        if BAD in call.last_user:
            return bad_reply(call) if callable(bad_reply) else bad_reply
        return ok("a fine answer")(call)
    return fn


def calls_for(server, text: str) -> int:
    return sum(1 for c in server.calls if text in c.last_user)


@pytest.mark.parametrize("kind, reply, raw", [
    ("empty", ok(""), None),
    ("empty", ok("   \n "), "   \n "),
    ("empty", ok(None), None),
    ("refusal", ok(None, refusal="I cannot help with that request."), "I cannot help with that request."),
    ("refusal", ok("I'm sorry, but I can't help with that."), "I'm sorry, but I can't help with that."),
    ("incomplete", ok("Lilies are very", finish_reason="length"), "Lilies are very"),
    ("incomplete", ok("[filtered]", finish_reason="content_filter"), "[filtered]"),
    ("incomplete", ok("Lilies are toxic to", finish_reason="model_length"), "Lilies are toxic to"),
])
def test_unusable_replies_are_reasked_then_rejected_with_the_raw_reply(tmp_path, llm_env, kind, reply, raw):
    llm_env.reply_fn = script(reply)
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"max_reasks": 2})
    out = tmp_path / "run"
    run_recipe(recipe, out)
    ok_rows, rejected = check_ledger(out, 60)
    assert len(ok_rows) == 59 and [r["reason"] for r in rejected] == [kind]
    if raw is None:  # no text at all: the whole response body is kept
        assert "choices" in rejected[0]["raw"]
    else:
        assert rejected[0]["raw"] == raw
    assert calls_for(llm_env, BAD) == 3
    assert all(r["messages"][-1]["content"] == "a fine answer" for r in ok_rows)
    hits = sum(llm_env.hits.values())
    run_recipe(recipe, out, force=("respond",))
    assert sum(llm_env.hits.values()) == hits, "a re-run replays the re-asks from the cache"


def test_a_reask_that_succeeds_keeps_the_record(tmp_path, llm_env):
    llm_env.reply_fn = script(lambda call: ok("" if calls_for(llm_env, BAD) == 1
                                             else "Lilies are toxic to cats.")(call))
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"max_reasks": 2})
    out = tmp_path / "run"
    run_recipe(recipe, out)
    ok_rows, rejected = check_ledger(out, 60)
    assert not rejected and calls_for(llm_env, BAD) == 2
    answer = next(r for r in ok_rows if r["messages"][0]["content"] == BAD)
    assert answer["messages"][-1]["content"] == "Lilies are toxic to cats."


def test_complete_records_pass_through_unchanged_and_samples_are_records(tmp_path, llm_env):
    counter = {"n": 0}

    def numbered(call):
        counter["n"] += 1
        return FakeReply(200, completion_body(call.body, f"answer {counter['n']}", model="fake-model-2024"))

    llm_env.reply_fn = numbered
    recipe = write_recipe(tmp_path, llm_env.base_url, inputs=(OPEN_60, COMPLETE_4),
                          respond={"n": 3, "system": "You are concise."})
    out = tmp_path / "run"
    run_recipe(recipe, out)
    rows = read_lines(out / "respond" / "data.jsonl")
    s = stats(out)
    assert len(rows) == 60 * 3 + 4 and s["generated"] == 120 and s["passed_complete"] == 4
    originals = {line["messages"][-1]["content"] for line in read_lines(COMPLETE_4)}
    passed = [r for r in rows if r["messages"][-1]["content"] in originals]
    assert len(passed) == 4 and all(r["messages"][0]["role"] == "user" for r in passed)
    answered = [r for r in rows if r not in passed]
    assert all(r["messages"][0] == {"role": "system", "content": "You are concise."} for r in answered)
    assert all(r["meta"]["model"] == "fake-model-2024" and r["meta"]["stage"] == "respond" for r in answered)
    assert sorted(r["meta"]["sample"] for r in answered) == sorted([0, 1, 2] * 60)
    assert len(llm_env.hits) == 180 and set(llm_env.hits.values()) == {1}


def test_system_prompt_can_be_used_without_being_kept(tmp_path, llm_env):
    recipe = write_recipe(tmp_path, llm_env.base_url, respond={"system": ["Be brief.", "Be kind."],
                                                               "keep_system": False})
    out = tmp_path / "run"
    run_recipe(recipe, out)
    rows = read_lines(out / "respond" / "data.jsonl")
    assert all([m["role"] for m in r["messages"]] == ["user", "assistant"] for r in rows)
    systems = {c.messages[0]["content"] for c in llm_env.calls}
    assert systems == {"Be brief.", "Be kind."}
