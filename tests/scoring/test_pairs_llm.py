"""`pairs` end to end: `respond` from two models (one with n=2) on real open instructions, each
answer judged, best and worst paired, exported as TRL `dpo` rows."""

from __future__ import annotations

import json
from collections import Counter

from tests.conftest import SAMPLES
from tests.fake_openai import ok
from tests.scoring.conftest import llm_block, lines, run_recipe, stats, write_recipe
from tests.scoring.scripted import echo_code, play, section, split_record

# answers of model-a (two samples) and model-b, by the start of the open Alpaca instruction
ANSWERS = {
    ("model-a", "Standardize the following date"): ["2021-06-26", "June 26 2021 in ISO is 2021/06/26"],
    ("model-b", "Standardize the following date"): ["I do not know dates."],
    ("model-a", "Create an illustration"): ["Picture: a sunset", "Picture: a beach"],
    ("model-b", "Create an illustration"): ["Picture: waves"],
    ("model-a", "Convert 20 inches"): ["50.8 cm", "50.8 cm"],
    ("model-b", "Convert 20 inches"): ["20 cm"],
    ("model-a", "Calculate the sum of all the digits"): ["The sum is 21.", "The sum is 12."],
    ("model-b", "Calculate the sum of all the digits"): ["Sum: unknown"],
}
JUDGE = {"2021-06-26": ["5\nExact."], "June 26": ["3\nWrong separator."], "I do not": ["1\nNo answer."],
         "Picture: a sunset": ["4\nOk."], "Picture: a beach": ["4\nOk."], "Picture: waves": ["3.5\nOk."],
         "50.8 cm": ["4.5\nRight."], "20 cm": ["2\nWrong."],
         "The sum is 21.": ["5\nRight."], "The sum is 12.": ["2\nWrong."], "Sum: unknown": ["great"]}


def scripted():
    given = Counter()

    def reply(call):
        first = call.messages[0]
        if first["role"] == "system" and first["content"].startswith("You are a careful reviewer"):
            code, inside, _ = split_record(call.messages[1]["content"])
            return echo_code(lambda c: play(JUDGE, section(inside, code, "answer"), c))(call)
        model, prompt = call.body["model"], call.last_user
        texts = next(v for (m, k), v in ANSWERS.items() if m == model and prompt.startswith(k))
        given[(model, prompt)] += 1
        return ok(texts[(given[(model, prompt)] - 1) % len(texts)])(call)
    return reply


def test_pairs_from_two_models_to_dpo(tmp_path, server):
    server.reply_fn = scripted()
    stages = [
        {"id": "alpaca", "op": "ingest", "source": "alpaca", "path": str(SAMPLES / "alpaca_sample.json"),
         "limit": 7},
        {"id": "answers_a", "op": "respond", "inputs": ["alpaca"], "n": 2, "llm": {"model": "model-a"}},
        {"id": "answers_b", "op": "respond", "inputs": ["alpaca"], "llm": {"model": "model-b"}},
        {"id": "pairs", "op": "pairs", "inputs": ["answers_a", "answers_b"]},
        {"id": "export", "op": "export", "inputs": ["pairs"], "format": "dpo"},
    ]
    out = tmp_path / "run"
    run_recipe(write_recipe(tmp_path, "pairstest", llm_block(server), stages), out)
    st = stats(out, "pairs")
    # the 3 complete Alpaca rows pass both respond stages unchanged: one answer per group after
    # the duplicate is dropped, too few to pair; the 4 open rows get 3 answers each
    assert (st["records_in"], st["records_out"], st["rejected"], st["consumed"]) == (2 * 3 + 12, 3, 12, 3)
    assert {k: v for k, v in st.items() if k.startswith("dropped_")} == {
        "dropped_duplicate_response": 3 + 1, "dropped_too_few_responses": 3, "dropped_not_chosen": 1,
        "dropped_no_margin": 3, "dropped_judge_unparsable": 1}
    # 12 answers; 11 distinct answers judged (the duplicate is not), the unparsable one re-asked twice
    assert server.completions == 12 + 11 + 2
    pairs = {r["messages"][0]["content"][:20]: r for r in lines(out / "pairs" / "data.jsonl")}
    date = pairs["Standardize the foll"]["meta"]
    assert pairs["Standardize the foll"]["messages"][-1]["content"] == "2021-06-26"
    assert (date["chosen"]["score"], date["chosen"]["model"]) == (5.0, "model-a")
    assert (date["rejected"]["content"], date["rejected"]["score"], date["rejected"]["model"]) == \
        ("I do not know dates.", 1.0, "model-b")
    assert date["scores"]["helpfulness"] == 5.0 and len(date["parents"]) == 2
    assert pairs["Convert 20 inches to"]["meta"]["rejected"]["content"] == "20 cm"
    assert pairs["Calculate the sum of"]["meta"]["rejected"]["content"] == "The sum is 12."
    rows = [json.loads(x) for x in (out / "export" / "dataset" / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(set(r) == {"prompt", "chosen", "rejected"} for r in rows)
    conv = next(r for r in rows if r["prompt"][0]["content"].startswith("Convert 20 inches"))
    assert conv["chosen"] == [{"role": "assistant", "content": "50.8 cm"}]
    assert conv["rejected"] == [{"role": "assistant", "content": "20 cm"}]
