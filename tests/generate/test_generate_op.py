"""`generate` against the fake OpenAI server: schema replies valid, re-asked, refused by the endpoint
(400, then the fallbacks), cache re-parse after a mapping change, plain-text turns, dry run."""

from __future__ import annotations

import json

from tests.conftest import cli
from tests.fake_openai import FakeReply, completion_body, error
from tests.generate.conftest import SCHEMA, TOPICS, lines, run, topic_of, write_recipe

PAIR_OUTPUT = {"user": "question", "assistant": "answer", "meta": {"scores.difficulty": "difficulty"}}


def pair(topic: str, difficulty: int = 2) -> str:
    return json.dumps({"question": f"What about {topic}?", "answer": f"All about {topic}.",
                       "difficulty": difficulty})


def reply(call, text: str) -> FakeReply:
    return FakeReply(200, completion_body(call.body, text))


def stats(out) -> dict:
    return json.loads((out / "gen" / "stats.json").read_text())


def test_valid_schema_replies_become_new_records(tmp_path, gen_env):
    gen_env.reply_fn = lambda call: reply(call, pair(topic_of(call)))
    recipe = write_recipe(tmp_path, gen_env.base_url, {"response_format": SCHEMA, "output": PAIR_OUTPUT,
                                                       "temperature": 0.3})
    run(recipe, tmp_path / "out")
    recs = lines(tmp_path / "out" / "gen" / "data.jsonl")
    assert [r["messages"] for r in recs] == [
        [{"role": "user", "content": f"What about {t}?"}, {"role": "assistant", "content": f"All about {t}."}]
        for t in TOPICS]
    assert all(r["meta"]["scores"] == {"difficulty": 2} and r["meta"]["prompt"] == "write_pair@1"
               and r["meta"]["model"] == "fake-model" and len(r["meta"]["parents"]) == 1 for r in recs)
    body = gen_env.calls[0].body
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "reply", "schema": SCHEMA}}
    assert body["temperature"] == 0.3
    # record text is data: `{{ moon }}` reaches the model byte for byte
    assert any("about this topic: the {{ moon }}" in c.messages[0]["content"] for c in gen_env.calls)
    s = stats(tmp_path / "out")
    assert (s["records_in"], s["records_out"], s["rejected"], s["consumed"], s["generated"]) == (3, 3, 0, 3, 3)
    assert s["requests"] == 3


def test_invalid_reply_is_reasked_then_rejected_with_raw_kept(tmp_path, gen_env):
    def fn(call):
        topic = topic_of(call)
        if topic == "tides":  # never valid: difficulty out of range
            return reply(call, pair(topic, difficulty=9))
        if topic == "volcanoes" and len(call.messages) == 1:  # first answer misses a field
            return reply(call, json.dumps({"question": "Why?"}))
        return reply(call, pair(topic))

    gen_env.reply_fn = fn
    recipe = write_recipe(tmp_path, gen_env.base_url, {"response_format": SCHEMA, "output": PAIR_OUTPUT})
    run(recipe, tmp_path / "out")
    kept = lines(tmp_path / "out" / "gen" / "data.jsonl")
    assert [r["messages"][0]["content"] for r in kept] == ["What about volcanoes?", "What about the {{ moon }}?"]
    rejected = lines(tmp_path / "out" / "gen" / "rejected.jsonl")
    assert [(r["reason"], r["record"]["messages"][0]["content"]) for r in rejected] == [("bad_schema", "tides")]
    assert "difficulty" in rejected[0]["detail"] and len(rejected[0]["raw"]) == 3  # first ask + 2 re-asks
    reasks = [c for c in gen_env.calls if topic_of(c) == "volcanoes"]
    assert len(reasks) == 2
    correction = reasks[1].messages
    assert correction[1] == {"role": "assistant", "content": '{"question": "Why?"}'}
    assert "answer" in correction[2]["content"] and correction[2]["role"] == "user"
    s = stats(tmp_path / "out")
    assert s["dropped_bad_schema"] == 1 and s["requests"] == 3 + 1 + 2


def test_schema_refused_by_endpoint_falls_back_and_still_validates(tmp_path, gen_env):
    def fn(call):
        fmt = (call.body.get("response_format") or {}).get("type")
        if fmt == "json_schema":
            return error(400, "response_format of type 'json_schema' is not supported by this model")
        if fmt == "json_object":
            return error(400, "unknown parameter: response_format")
        topic = topic_of(call)
        return reply(call, "not json at all" if topic == "tides" else pair(topic))

    gen_env.reply_fn = fn
    recipe = write_recipe(tmp_path, gen_env.base_url, {"response_format": SCHEMA, "output": PAIR_OUTPUT},
                          llm={"concurrency": 1})
    run(recipe, tmp_path / "out")
    kept = lines(tmp_path / "out" / "gen" / "data.jsonl")
    assert [r["messages"][1]["content"] for r in kept] == ["All about volcanoes.", "All about the {{ moon }}."]
    rejected = lines(tmp_path / "out" / "gen" / "rejected.jsonl")
    assert [r["reason"] for r in rejected] == ["bad_json"]
    plain = [c for c in gen_env.calls if "response_format" not in c.body]
    # without a format the prompt carries the schema
    assert all('"required"' in c.messages[0]["content"] for c in plain)
    refused = [c for c in gen_env.calls if "response_format" in c.body]
    # the stage learns once: tasks started after that skip the refused formats
    assert 2 <= len(refused) < 2 * len(TOPICS)
    s = stats(tmp_path / "out")
    assert s["response_format_fallbacks"] == 2 and s["records_out"] == 2 and s["rejected"] == 1


def test_cached_replies_are_parsed_again_when_the_mapping_changes(tmp_path, gen_env):
    gen_env.reply_fn = lambda call: reply(call, pair(topic_of(call), difficulty=4))
    recipe = write_recipe(tmp_path, gen_env.base_url, {"response_format": SCHEMA, "output": PAIR_OUTPUT})
    run(recipe, tmp_path / "out")
    sent = gen_env.completions
    assert sent == 3
    recipe = write_recipe(tmp_path, gen_env.base_url, {
        "response_format": SCHEMA, "output": {"append": "answer", "meta": {"question": "question",
                                                                           "level": "difficulty"}}})
    assert run(recipe, tmp_path / "out")["gen"] == "ran"
    assert gen_env.completions == sent  # not one request more
    recs = lines(tmp_path / "out" / "gen" / "data.jsonl")
    assert recs[0]["messages"] == [{"role": "user", "content": "tides"},
                                   {"role": "assistant", "content": "All about tides."}]
    assert recs[0]["meta"]["question"] == "What about tides?" and recs[0]["meta"]["level"] == 4
    s = stats(tmp_path / "out")
    assert (s["requests"], s["cached"], s.get("consumed", 0), s.get("generated", 0)) == (0, 3, 0, 0)


def test_plain_text_with_n_samples_appends_answers(tmp_path, gen_env):
    gen_env.reply_fn = lambda call: reply(call, f"  answer {call.body.get('seed')} to {topic_of(call)}  ")
    recipe = write_recipe(tmp_path, gen_env.base_url, {"n": 2, "system": "Be brief.", "seed": 7,
                                                       "presence_penalty": 0.5})
    run(recipe, tmp_path / "out")
    recs = lines(tmp_path / "out" / "gen" / "data.jsonl")
    assert [(r["messages"][-1]["content"], r["meta"]["sample"]) for r in recs][:2] == [
        ("answer 7 to tides", 0), ("answer 7 to tides", 1)]
    assert len(recs) == 6 and recs[0]["id"] == recs[1]["id"]
    assert gen_env.calls[0].messages[0] == {"role": "system", "content": "Be brief."}
    assert gen_env.calls[0].body["presence_penalty"] == 0.5 and "temperature" not in gen_env.calls[0].body
    assert gen_env.completions == 6  # the sample index is part of the request key
    s = stats(tmp_path / "out")
    assert (s["records_in"], s["generated"], s["records_out"]) == (3, 3, 6)


def test_annotate_meta_only_keeps_the_record(tmp_path, gen_env):
    gen_env.reply_fn = lambda call: reply(call, '{"score": 4, "why": "fine"}')
    schema = {"type": "object", "required": ["score"], "properties": {"score": {"type": "integer"},
                                                                      "why": {"type": "string"}}}
    recipe = write_recipe(tmp_path, gen_env.base_url, {"response_format": schema,
                                                       "output": {"meta": {"scores.rating": "score"}}})
    run(recipe, tmp_path / "out")
    recs = lines(tmp_path / "out" / "gen" / "data.jsonl")
    inputs = lines(tmp_path / "out" / "topics" / "data.jsonl")
    assert [r["id"] for r in recs] == [r["id"] for r in inputs]
    assert all(r["meta"]["scores"] == {"rating": 4} for r in recs)


def test_bad_configuration_is_one_clear_line(tmp_path):
    recipe = write_recipe(tmp_path, "http://127.0.0.1:9/v1", {"response_format": SCHEMA,
                                                               "output": {"user": "questoin"}})
    proc = cli("run", str(recipe), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "stages[1]" in proc.stderr
    assert "'questoin' is not in the reply" in proc.stderr and proc.stderr.count("\n") == 1
    bad_schema = write_recipe(tmp_path, "http://127.0.0.1:9/v1", {"response_format": {"type": "objekt"}})
    proc = cli("run", str(bad_schema), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1 and "not a valid JSON schema" in proc.stderr


def test_dry_run_renders_requests_and_sends_none(tmp_path, gen_env):
    recipe = write_recipe(tmp_path, gen_env.base_url, {"response_format": SCHEMA, "output": PAIR_OUTPUT})
    proc = cli("run", str(recipe), "--out", str(tmp_path / "out"), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert gen_env.completions == 0
    summary = json.loads((tmp_path / "out" / "dry-run" / "summary.json").read_text())
    assert "about this topic: tides" in (tmp_path / "out" / "dry-run" / "gen.md").read_text()
    assert json.dumps(summary).count("gen") >= 1


def test_batch_mode_gives_the_records_of_online_mode_with_reasks(tmp_path, gen_env):
    def fn(call):
        topic = topic_of(call)
        if topic == "volcanoes" and len(call.messages) == 1:  # asked again in a second batch
            return reply(call, "no JSON here")
        return reply(call, pair(topic))

    gen_env.reply_fn = fn
    outs = {}
    for mode in ("online", "batch"):
        llm = {"mode": mode, "batch_poll": 0.01, "batch_poll_max": 0.05}
        (tmp_path / mode).mkdir()
        recipe = write_recipe(tmp_path / mode, gen_env.base_url, {"response_format": SCHEMA, "output": PAIR_OUTPUT},
                              llm=llm)
        run(recipe, tmp_path / mode / "run")
        outs[mode] = lines(tmp_path / mode / "run" / "gen" / "data.jsonl")
    assert [r["messages"] for r in outs["batch"]] == [r["messages"] for r in outs["online"]]
    assert len(outs["online"]) == 3 and gen_env.paths["POST /batches"] == 2  # the first round, then the re-ask


def test_prompt_template_mistakes_are_recipe_errors(tmp_path):
    recipe = write_recipe(tmp_path, "http://127.0.0.1:9/v1", {})
    for body, expected in (("Topic: {{ instrution }}\n", "uses ['instrution'], which its front matter does not"),
                           ("Topic: {{ instruction \n", "write_pair.md:6: template error"),
                           ("{{ meta }}\n", "does not declare")):
        (tmp_path / "write_pair.md").write_text("---\nname: write_pair\nversion: 1\nvariables: [instruction]\n---\n"
                                                + body)
        proc = cli("run", str(recipe), "--out", str(tmp_path / "out"))
        assert proc.returncode == 1 and expected in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_sigkill_mid_stage_then_resume_answers_from_the_cache(tmp_path, gen_env):
    from tests.llm.test_crash_resume import signal_at, start_cli

    topics = [f"topic {i}" for i in range(40)]
    gen_env.latency = 0.02
    gen_env.reply_fn = lambda call: reply(call, pair(topic_of(call)))
    recipe = write_recipe(tmp_path, gen_env.base_url, {"response_format": SCHEMA, "output": PAIR_OUTPUT},
                          topics=topics)
    code, _ = signal_at(start_cli(recipe, tmp_path / "out"), gen_env, 15)
    assert code == -9
    proc = start_cli(recipe, tmp_path / "out")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    recs = lines(tmp_path / "out" / "gen" / "data.jsonl")
    assert [r["messages"][0]["content"] for r in recs] == [f"What about {t}?" for t in topics]
    # only the requests in flight at the kill (at most `concurrency`, 4) were asked again
    assert len(gen_env.hits) == 40 and sum(gen_env.hits.values()) - 40 <= 4
