"""self_chat, role_play, user_sim and self_refine end to end against the local fake server."""

from __future__ import annotations

from collections import Counter

from tests.chat.conftest import questions, results, run, write_recipe, write_rows


def test_self_chat_v1_parses_transcripts_and_rejects_unreadable_ones(tmp_path, server):
    data = write_rows(tmp_path / "seeds.jsonl", questions("growing basil", "a malformed topic", "tea"))
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "chat", "op": "self_chat", "inputs": ["in"], "variant": "v1", "max_turns": 2}], data=data)
    run(recipe, tmp_path / "out")
    kept, rejected, stats = results(tmp_path / "out", "chat")
    assert sorted(r["meta"]["topic"] for r in kept) == ["growing basil", "tea"]
    basil = next(r for r in kept if r["meta"]["topic"] == "growing basil")
    assert [m["content"] for m in basil["messages"]] == [
        "Tell me about growing basil.", "Here is an overview of growing basil.",
        "Why does it matter?", "Because it affects daily life."]
    assert basil["meta"]["termination_reason"] == "max_turns" and basil["meta"]["turns"] == 2
    assert basil["meta"]["method"] == "baize_v1" and basil["meta"]["prompt"] == "baize_self_chat@1"
    assert len(basil["meta"]["parents"]) == 1
    assert [r["reason"] for r in rejected] == ["unparsable"]
    assert rejected[0]["raw"].startswith("Human: what is it?")
    assert (stats["records_in"], stats["dropped_unparsable"]) == (3, 1)
    assert stats["requests"] == 4                      # the unreadable transcript was asked again once


def test_self_chat_v2_asks_turn_by_turn_and_drops_the_last_exchange_as_baize(tmp_path, server):
    data = write_rows(tmp_path / "seeds.jsonl", questions("sourdough", "a shy topic"))
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "chat", "op": "self_chat", "inputs": ["in"], "variant": "v2", "max_turns": 3, "samples": 2}],
        data=data)
    run(recipe, tmp_path / "out")
    kept, rejected, stats = results(tmp_path / "out", "chat")
    assert not rejected and len(kept) == 4 and stats["generated"] == 2
    by = Counter((r["meta"]["topic"], r["meta"]["turns"], r["meta"]["termination_reason"]) for r in kept)
    # three rounds asked, the third dropped (Baize's preprocessing); an empty human line is re-asked
    # (once: this recipe sets max_reasks 1) like any bad reply, and the talk ends with its complete round
    assert by == {("sourdough", 2, "last_dropped"): 2, ("a shy topic", 1, "empty"): 2}
    dough = next(r for r in kept if r["meta"]["topic"] == "sourdough")
    assert dough["messages"][0] == {"role": "user", "content": "Question 1 about sourdough?"}
    assert dough["messages"][3]["content"] == "Answer: Question 2 about sourdough?"
    human_calls = [c for c in server.calls if c.last_user.endswith("[Human] ")]
    assert all(c.body["stop"] == ["[AI]"] for c in human_calls)
    # sample 0 and 1 are distinct requests: 2 x (3 + 3) for sourdough, 2 x (2 + 1 + 1 re-ask) for the shy one
    assert stats["requests"] == 20


def test_self_chat_v2_keeps_every_round_without_drop_last(tmp_path, server):
    data = write_rows(tmp_path / "seeds.jsonl", questions("sourdough"))
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "chat", "op": "self_chat", "inputs": ["in"], "variant": "v2", "max_turns": 3,
         "drop_last": False}], data=data)
    run(recipe, tmp_path / "out")
    kept, _, _ = results(tmp_path / "out", "chat")
    assert [(r["meta"]["turns"], r["meta"]["termination_reason"]) for r in kept] == [(3, "max_turns")]
    assert kept[0]["messages"][5]["content"] == "Answer: Question 3 about sourdough?"


def test_role_play_terminations_and_meta(tmp_path, server):
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "camel", "op": "role_play", "num_roles": 2, "num_tasks": 2, "max_messages": 6}])
    run(recipe, tmp_path / "out")
    kept, rejected, stats = results(tmp_path / "out", "camel")
    # roles: Chef, Translator x Student, Teacher; the Teacher pairs' task lists are short -> rejected
    assert sorted((r["reason"], r["where"]) for r in rejected) == [
        ("bad_task_list", "Chef | Teacher"), ("bad_task_list", "Translator | Teacher")]
    assert "1. Plan a lesson." in rejected[0]["raw"]
    assert len(kept) == 4 and stats["generated"] == 6 and stats["records_in"] == 0
    got = {(r["meta"]["assistant_role"], r["meta"]["original_task"]): r for r in kept}
    bread, menu = got[("Chef", "Bake bread together.")], got[("Chef", "Plan a weekly menu.")]
    assert bread["meta"]["termination_reason"] == "task_done" and bread["meta"]["turns"] == 2
    assert bread["meta"]["specified_task"] == "Bake bread together within one week, step by step."
    assert bread["meta"]["user_role"] == "Student" and bread["meta"]["num_messages"] == 4
    assert bread["messages"][0]["content"] == "Instruction: do step 1\nInput: None"
    assert bread["messages"][1]["content"] == "Solution: step 1 is done like this.\nNext request."
    assert menu["meta"]["termination_reason"] == "assistant_instruct_threshold" and menu["meta"]["turns"] == 1
    assert "parents" not in bread["meta"]
    specify = [c for c in server.calls if c.messages[0]["content"].startswith("You turn vague")]
    assert len(specify) == 4 and {c.body["temperature"] for c in specify} == {1.4}
    agents = [c for c in server.calls if c.messages[0]["role"] == "system" and c.messages[0]["content"].startswith("Always remember that you are")]
    assert agents and {c.body.get("temperature") for c in agents} == {0.2}   # CAMEL's agents run at 0.2


def test_role_play_message_cap(tmp_path, server):
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "camel", "op": "role_play", "assistant_roles": ["Chef"], "user_roles": ["Student"],
         "tasks": ["Cook rice."], "specify": False, "max_messages": 6}])
    run(recipe, tmp_path / "out")
    kept, _, _ = results(tmp_path / "out", "camel")
    assert [(r["meta"]["termination_reason"], r["meta"]["turns"], r["meta"]["num_messages"]) for r in kept] == \
        [("max_num_messages", 3, 6)]
    assert kept[0]["meta"]["specified_task"] == "Cook rice."


def test_user_sim_with_a_separate_simulator_model(tmp_path, server):
    data = write_rows(tmp_path / "q.jsonl", questions("What causes tides?", "Why is the sky blue?"))
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "sim", "op": "user_sim", "inputs": ["in"], "min_rounds": 3, "max_rounds": 3,
         "user_llm": {"model": "sim-model", "temperature": 0.9}}], data=data)
    run(recipe, tmp_path / "out")
    kept, rejected, stats = results(tmp_path / "out", "sim")
    assert not rejected and [r["meta"]["turns"] for r in kept] == [3, 3]
    tides = next(r for r in kept if r["messages"][0]["content"] == "What causes tides?")
    assert tides["messages"][2]["content"] == "Interesting. Can you say more about point 1?"
    assert tides["meta"]["user_model"] == "sim-model" and tides["meta"]["model"] == "fake-model"
    sim_calls = [c for c in server.calls if c.last_user.startswith("You are playing a curious")]
    assert len(sim_calls) == 4 and {(c.body["model"], c.body["temperature"]) for c in sim_calls} == \
        {("sim-model", 0.9)}
    assert {c.body["model"] for c in server.calls if c not in sim_calls} == {"fake-model"}
    assert stats["requests"] == 10


def test_user_sim_openings_from_topics_and_materials(tmp_path, server):
    data = write_rows(tmp_path / "t.jsonl", questions("Tides on other planets"))
    stages = [{"id": "topic", "op": "user_sim", "inputs": ["in"], "opening": "topic", "min_rounds": 2,
               "max_rounds": 2},
              {"id": "material", "op": "user_sim", "inputs": ["in"], "opening": "material", "min_rounds": 2,
               "max_rounds": 2}]
    run(write_recipe(tmp_path, server.base_url, stages, data=data), tmp_path / "out")
    (topic,), _, _ = results(tmp_path / "out", "topic")
    (material,), _, _ = results(tmp_path / "out", "material")
    assert topic["messages"][0]["content"] == "How do tides work on other planets?"
    assert "Tides on other planets" in material["messages"][0]["content"]
    assert "Summarise this text in two sentences." in material["messages"][0]["content"]


def test_self_refine_revises_until_no_revision_is_needed(tmp_path, server):
    rows = [[{"role": "user", "content": "Explain photosynthesis."},
             {"role": "assistant", "content": "Plants make food."}],
            [{"role": "user", "content": "Name a prime number."}],
            [{"role": "user", "content": "An unclear request."}]]
    data = write_rows(tmp_path / "r.jsonl", rows)
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "refine", "op": "self_refine", "inputs": ["in"], "keep_chain": True, "target": "final",
         "reuse_answer": True}], data=data)
    run(recipe, tmp_path / "out")
    kept, rejected, stats = results(tmp_path / "out", "refine")
    photo = next(r for r in kept if r["messages"][0]["content"] == "Explain photosynthesis.")
    # SelFee's clean-ups: the label, the leading apology and the trailing sentence about the revision go
    assert photo["messages"][1]["content"] == "Plants make food. (revised)"
    assert photo["meta"]["revisions"] == 1 and photo["meta"]["termination_reason"] == "no_revision_needed"
    assert photo["meta"]["feedback_scores"] == [6, 9]
    assert [step["answer"] for step in photo["meta"]["refine_chain"]] == ["Plants make food.",
                                                                        "Plants make food. (revised)"]
    prime = next(r for r in kept if r["messages"][0]["content"] == "Name a prime number.")
    assert prime["messages"][1]["content"] == "Answer: Name a prime number. (revised)"
    assert [r["reason"] for r in rejected] == ["unparsable"]
    assert rejected[0]["raw"] == "Looks fine, I guess."
    assert stats["dropped_unparsable"] == 1
    revise = [c for c in server.calls if c.last_user.startswith("Revise the answer")]
    # the revision is asked in the critique's own chat, as SelFee does
    assert revise and all([m["role"] for m in c.messages] == ["user", "assistant", "user"] for c in revise)
    assert all("as if the revised answer were your first attempt" in c.last_user for c in revise)


def test_self_refine_trains_on_the_chain_in_selfee_layout(tmp_path, server):
    rows = [[{"role": "user", "content": "Explain photosynthesis."},
             {"role": "assistant", "content": "Plants make food."}]]
    data = write_rows(tmp_path / "r.jsonl", rows)
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "refine", "op": "self_refine", "inputs": ["in"]}], data=data)
    run(recipe, tmp_path / "out")
    (rec,), _, _ = results(tmp_path / "out", "refine")
    first = "Answer: Explain photosynthesis."       # written fresh: the record's own answer is not reused
    assert rec["messages"][1]["content"] == (
        f"{first}\n\n### Feedback 1:\nIt lacks an example. Score: 6/10\nRevision is needed"
        f"\n\n### Revision 1:\n{first} (revised)"
        "\n\n### Feedback 2:\nNow it is complete. Score: 9/10\nRevision is not needed")
    assert rec["meta"]["target"] == "chain"
    answers = [c for c in server.calls if c.messages == [{"role": "user", "content": "Explain photosynthesis."}]]
    assert len(answers) == 1 and answers[0].body["temperature"] == 1.0 and answers[0].body["max_tokens"] == 512


def test_user_sim_simulator_on_another_endpoint_with_its_own_key(tmp_path, server, model, monkeypatch):
    from tests.fake_openai import FakeOpenAI

    other = FakeOpenAI(reply_fn=model).start()
    try:
        monkeypatch.setenv("SIM_KEY", "sk-simulator-1111")
        data = write_rows(tmp_path / "q.jsonl", questions("What causes tides?"))
        recipe = write_recipe(tmp_path, server.base_url, [
            {"id": "sim", "op": "user_sim", "inputs": ["in"], "min_rounds": 3, "max_rounds": 3,
             "user_llm": {"model": "sim-model", "base_url": other.base_url, "api_key_env": "SIM_KEY",
                          "concurrency": 2}}], data=data)
        run(recipe, tmp_path / "out")
        (rec,), _, stats = results(tmp_path / "out", "sim")
        assert rec["meta"]["turns"] == 3 and rec["meta"]["user_model"] == "sim-model"
        assert [c.last_user[:36] for c in other.calls] == ["You are playing a curious human user"] * 2
        assert {c.body["model"] for c in other.calls} == {"sim-model"}
        assert not [c for c in server.calls if c.last_user.startswith("You are playing")]
        assert len(server.calls) == 3 and stats["requests"] == 5     # both clients count in the stage
        assert other.auth_seen == {"Bearer sk-simulator-1111"}
    finally:
        other.stop()


def test_self_chat_v1_has_no_turn_cap_by_default(tmp_path, server):
    # Baize's v1 keeps every well-formed round of the transcript (only the last segment is dropped)
    data = write_rows(tmp_path / "seeds.jsonl", questions("a long talk"))
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "chat", "op": "self_chat", "inputs": ["in"], "variant": "v1"}], data=data)
    run(recipe, tmp_path / "out")
    (talk,), _, _ = results(tmp_path / "out", "chat")
    assert talk["meta"]["termination_reason"] == "transcript_end" and talk["meta"]["turns"] == 8
    assert talk["messages"][-1]["content"] == "Answer 8."
