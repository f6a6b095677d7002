"""score_deita with `prompt: deita`: Deita's released scorer models behind a completions endpoint,
scored exactly as Deita's scorer scores them (scripted logprobs at the fake server)."""

from __future__ import annotations

import math

from pipeline.scoring.deita_scorer import COMPLEXITY, QUALITY, deita_expectation
from tests.fake_openai import FakeReply, completion_body
from tests.scoring.conftest import llm_block, lines, run_recipe, stats, write_recipe


def deita_reference(logits: list[float]) -> float:
    """Deita's `infer_score`: softmax over the six score tokens' logits, weighted by 1..6."""
    e = [math.exp(x - max(logits)) for x in logits]
    return sum((i + 1) * v / sum(e) for i, v in enumerate(e))


COMPLEX = {"1": -6.0, "2": -4.0, "3": -2.5, "4": -1.2, "5": -0.9, "6": -3.0, "The": -0.5}
QUALITY_TOP = {"1": -5.0, "2": -3.0, "3": -1.0, "4": -0.7, "5": -2.0, "6": -4.0}


def scorer_server(call) -> FakeReply:
    prompt = call.body["prompt"]
    top = COMPLEX if prompt.endswith("##Complexity: ") else QUALITY_TOP
    if "the missing digit" in prompt:
        top = {k: v for k, v in top.items() if k != "6"}
    body = completion_body(call.body, "4")
    body["choices"][0]["logprobs"] = {"tokens": ["4"], "token_logprobs": [top.get("4", -1.0)],
                                      "top_logprobs": [top]}
    return FakeReply(200, body)


def test_expectation_as_deita_computes_it():
    logits = [COMPLEX[d] for d in "123456"]
    raw = {"choices": [{"logprobs": {"top_logprobs": [COMPLEX]}}]}
    assert deita_expectation(raw) == (deita_reference(logits), "logprobs")
    assert deita_expectation({"choices": [{"logprobs": {"top_logprobs": [{"1": -1.0}]}}]}) == (3.0, "fallback")
    assert deita_expectation({"choices": [{}]}) == (3.0, "fallback")


def test_scorer_model_layout_and_scores(tmp_path, server):
    server.reply_fn = scorer_server
    rows = tmp_path / "r.jsonl"
    rows.write_text(
        '{"messages": [{"role": "user", "content": "Explain tides."}, {"role": "assistant", "content": "The Moon."},'
        ' {"role": "user", "content": "And the Sun?"}]}\n'
        '{"messages": [{"role": "user", "content": "Name the missing digit."}, {"role": "assistant", "content": "6"}]}\n')
    stages = [{"id": "in", "op": "ingest", "source": "messages", "path": str(rows)},
              {"id": "deita", "op": "score_deita", "inputs": ["in"], "prompt": "deita"}]
    run_recipe(write_recipe(tmp_path, "deitamodels", llm_block(server), stages), tmp_path / "run")
    prompts = [c.body["prompt"] for c in server.calls]
    assert set(server.paths) - {"GET /models"} == {"POST /completions"}      # (the endpoint check)
    assert COMPLEXITY.format(instruction="Explain tides.") in prompts
    assert QUALITY.format(instruction="Explain tides.", output="The Moon.") in prompts
    # the final unanswered turn is scored against an empty response
    assert QUALITY.format(instruction="And the Sun?", output="") in prompts
    assert all(c.body["max_tokens"] == 2 and c.body["logprobs"] == 20 for c in server.calls)
    tides, missing = lines(tmp_path / "run" / "deita" / "data.jsonl")
    c = deita_reference([COMPLEX[d] for d in "123456"])
    q = deita_reference([QUALITY_TOP[d] for d in "123456"])
    assert tides["meta"]["deita"]["complexity"] == [round(c, 4)] * 2
    assert tides["meta"]["deita"]["quality"] == [round(q, 4)] * 2
    assert tides["meta"]["scores"]["deita_score"] == round(2 * c * q, 4)
    assert missing["meta"]["deita"]["complexity"] == [3.0] and missing["meta"]["deita"]["method"] == ["fallback"]
    st = stats(tmp_path / "run", "deita")
    assert st["scored_by_logprobs"] == 4 and st["scored_by_fallback"] == 2
