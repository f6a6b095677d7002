"""The bundled `recipes/generate_classic.yaml` runs end to end against the fake server."""

from __future__ import annotations

import json

from tests.conftest import ROOT, cli
from tests.fake_openai import FakeReply, completion_body
from tests.generate.conftest import lines


def answer(call) -> FakeReply:
    prompt = call.messages[-1]["content"]
    if prompt.startswith("Write one question"):
        topic = prompt.split("Topic: ", 1)[1].split("\n", 1)[0]
        text = json.dumps({"question": f"How does {topic} work ({call.key[:8]})?"})
    elif prompt.startswith("Below is a task"):
        text = "Step by step: " + prompt.split("### Task:\n", 1)[1].split("\n", 1)[0]
    else:
        text = json.dumps({"score": 5 if "tides" in prompt else 3.5, "explanation": "Accurate."})
    return FakeReply(200, completion_body(call.body, text))


def test_generate_classic_recipe_runs(tmp_path, gen_env):
    gen_env.reply_fn = answer
    env = {"OPENAI_BASE_URL": gen_env.base_url, "OPENAI_API_KEY": "sk-test", "INSTRUCTPIPE_MODEL": "fake"}
    out = tmp_path / "out"
    cli("run", str(ROOT / "recipes" / "generate_classic.yaml"), "--out", str(out), env=env, check=True)
    questions = lines(out / "questions" / "data.jsonl")
    assert len(questions) == 24 and all(not q["messages"][-1]["role"] == "assistant" for q in questions)
    rated = lines(out / "rated" / "data.jsonl")
    assert len(rated) == 24 and all(r["meta"]["scores"]["alpagasus"] in (5, 3.5) for r in rated)
    best = lines(out / "best" / "data.jsonl")
    assert len(best) == 16 and best[0]["meta"]["scores"]["alpagasus"] == 5
    assert gen_env.completions == 24 * 3
    cli("run", str(ROOT / "recipes" / "generate_classic.yaml"), "--out", str(out), env=env, check=True)
    assert gen_env.completions == 24 * 3
