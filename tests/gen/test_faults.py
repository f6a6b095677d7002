"""Bad LLM output in the generation ops (reliability G5): failed requests, refusals, empty and
filtered replies are rejected with their reason and raw text; nothing becomes an empty record."""

from __future__ import annotations

import hashlib
import json

from tests.fake_openai import FakeReply, completion_body, error
from tests.gen.conftest import ALPACA, lines, reasons, run_recipe, stats, write_recipe
from tests.gen.scripted import make_server_reply, prompt_text

FAULTS = {
    0: lambda body: error(400, "bad request: prompt rejected"),
    1: lambda body: FakeReply(200, completion_body(body, None, refusal="I can't help with that.")),
    2: lambda body: FakeReply(200, completion_body(body, "   ")),
    3: lambda body: FakeReply(200, completion_body(body, "1. Partial", finish_reason="content_filter")),
}


def faulty(marker: str, every: int = 5):
    """Scripted replies, but one request in `every` whose prompt holds `marker` gets a fault
    (which one, and which fault, is a function of the request body)."""
    def fn(call):
        body = call.body or {}
        if marker in prompt_text(body):
            h = int(hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(), 16)
            if h % every == 0:
                return FAULTS[(h // every) % 4](body)
        return make_server_reply(call)
    return fn


def first_faulty(marker: str):
    """The first four requests holding `marker` get one fault each, in turn; the rest are scripted."""
    given: dict[str, int] = {}

    def fn(call):
        body = call.body or {}
        if marker in prompt_text(body) and (call.key in given or len(given) < len(FAULTS)):
            given.setdefault(call.key, len(given))
            return FAULTS[given[call.key]](body)
        return make_server_reply(call)
    return fn


def test_self_instruct_list_faults(tmp_path, server):
    server.reply_fn = first_faulty("Brainstorm a numbered list")
    out = tmp_path / "run"
    run_recipe(write_recipe(tmp_path, server.base_url, {"op": "self_instruct", "target": 20,
                                                        "requests_per_round": 6},
                            llm={"max_reasks": 0, "max_retries": 0}), out)
    got = reasons(out)
    assert stats(out)["instructions_kept"] == 20
    assert {"llm_error", "refusal", "empty", "incomplete"} <= set(got)
    for x in lines(out / "gen" / "rejected.jsonl"):
        if x["reason"] in ("llm_error", "refusal", "empty", "incomplete"):
            assert x["where"].startswith("request ") and "record" not in x and x["detail"]
            if x["reason"] == "llm_error":
                assert "bad request: prompt rejected" in x["detail"]
            else:  # the text, the refusal, or the whole response body
                assert x["raw"] in ("   ", "I can't help with that.", "1. Partial")
    assert all(r["messages"][-1]["content"].strip() for r in lines(out / "gen" / "data.jsonl"))


def test_unnatural_output_faults_reject_the_example(tmp_path, server):
    server.reply_fn = faulty("Reply with the output only.", every=2)
    out = tmp_path / "run"
    run_recipe(write_recipe(tmp_path, server.base_url, {"op": "unnatural_instruct", "target": 12},
                            llm={"max_reasks": 0, "max_retries": 0}), out)
    got = reasons(out)
    failed = sum(v for k, v in got.items() if k.startswith("output_"))
    assert failed > 0 and stats(out)["records_out"] == 12 - failed
    for x in lines(out / "gen" / "rejected.jsonl"):
        if x["reason"].startswith("output_"):
            assert len(x["record"]["messages"]) == 1 and "raw_reply" in x


def test_evol_response_faults_fail_the_evolution(tmp_path, server):
    server.reply_fn = faulty("Also consider the", every=3)
    out = tmp_path / "run"
    run_recipe(write_recipe(tmp_path, server.base_url, {"op": "evol_instruct", "rounds": 2, "equality_check": False},
                            seeds={"source": "alpaca", "path": str(ALPACA), "limit": 15},
                            llm={"max_reasks": 0, "max_retries": 0}), out)
    got = reasons(out)
    assert any(k.startswith("response_") and k not in ("response_sorry", "response_only_stopwords") for k in got)
    assert stats(out)["generated"] == 30


def empty_first(marker: str):
    """An empty reply the first time a request body holding `marker` arrives, scripted after."""
    seen: set[str] = set()

    def fn(call):
        body = call.body or {}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if marker in prompt_text(body) and digest not in seen:
            seen.add(digest)
            return FakeReply(200, completion_body(body, ""))
        return make_server_reply(call)
    return fn


def test_empty_replies_are_asked_again_within_max_reasks(tmp_path, server):
    server.reply_fn = empty_first("Brainstorm a numbered list")
    out = tmp_path / "run"
    recipe = write_recipe(tmp_path, server.base_url, {"op": "self_instruct", "target": 10,
                                                      "generate_instances": False}, llm={"max_reasks": 1})
    run_recipe(recipe, out)
    lists = [c for c in server.calls if "Brainstorm a numbered list" in prompt_text(c.body)]
    assert stats(out)["reasks"] == len(lists) // 2 and "empty" not in reasons(out)
    assert stats(out)["records_out"] == 10
    hits = server.completions
    run_recipe(recipe, out, force=("gen",))
    assert server.completions == hits, "a re-run replays the re-asks from the cache"


def test_evol_reasks_an_empty_evolution(tmp_path, server):
    server.reply_fn = empty_first("Act as a prompt")
    out = tmp_path / "run"
    run_recipe(write_recipe(tmp_path, server.base_url, {"op": "evol_instruct", "rounds": 1, "equality_check": False},
                            seeds={"source": "alpaca", "path": str(ALPACA), "limit": 5}, llm={"max_reasks": 1}), out)
    assert "empty" not in reasons(out) and stats(out)["generated"] == 5
    evolve = [c for c in server.calls if "Act as a prompt" in prompt_text(c.body)]
    assert len(evolve) == 10
