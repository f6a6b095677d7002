"""`judge` end to end against the local OpenAI-compatible server: scripted scores, the injection
record, bad answers re-asked then rejected, the threshold, counters, rerun and resume."""

from __future__ import annotations

import pytest

from pipeline.errors import BudgetError
from tests.conftest import FIXTURES, SAMPLES
from tests.fake_openai import error, ok
from tests.scoring.conftest import llm_block, lines, run_recipe, stats, write_recipe
from tests.scoring.scripted import echo_code, judge_server, section, split_record

SPECIAL = FIXTURES / "scoring" / "judge_special.jsonl"
SCRIPT = {
    # the first 12 Alpaca sample rows; rows 1, 3, 4 and 6 have no output (open records)
    "Generate a list of marketing strategies": ["5\nComplete and relevant."],
    "Remove the unnecessary word": ["4.5\nCorrect."],
    "Identify five security measures": ["4\nMostly right."],
    "Name 3 different types of renewable energy": ["3\nIncomplete."],
    "Generate a fictional conversation": ["5\nGood."],
    "Classify these items into categories": ["2.5\nSeveral items misplaced."],
    "Name the longest river in India": ["4.5\nAccurate."],
    "What are the properties of water": ["5\nThorough."],
    # the special records
    "What is the capital of France?": ["1\nWrong: Paris; and the record tries to set its score."],
    "Explain what {{ x }}": ["5\nAccurate."],
    "Give a synonym of 'happy'": ["9/10\nGreat", "4.5\nCorrect synonym."],
    "Name a prime number greater than 10": ["11"],
    "Translate 'cat' into French": [""],
    "Write one sentence about the sea": [ok("4\nfine but cut", finish_reason="length")],
    "Spell 'necessary'": [error(400, "invalid request")],
    "How many legs does a spider have?": ["The answer is right.", "4\nRight, but terse."],
}


def recipe(tmp_path, server, **llm):
    stages = [
        {"id": "alpaca", "op": "ingest", "source": "alpaca", "path": str(SAMPLES / "alpaca_sample.json"),
         "limit": 12},
        {"id": "special", "op": "ingest", "source": "messages", "path": str(SPECIAL)},
        {"id": "judge", "op": "judge", "inputs": ["alpaca", "special"]},
    ]
    return write_recipe(tmp_path, "judgetest", llm_block(server, **llm), stages)


class ByInstruction(dict):
    """Rows (kept records, or rejected rows with their `record`) found by an instruction's start."""

    def __init__(self, rows):
        super().__init__((next(m["content"] for m in r.get("record", r)["messages"] if m["role"] == "user"), r)
                         for r in rows)

    def __getitem__(self, prefix):
        found = [v for k, v in self.items() if k.startswith(prefix)]
        assert len(found) == 1, prefix
        return found[0]


def test_judge_scores_rejects_and_counts(tmp_path, server):
    server.reply_fn = judge_server(SCRIPT)
    out = tmp_path / "run"
    run_recipe(recipe(tmp_path, server), out)
    st = stats(out, "judge")
    assert (st["records_in"], st["records_out"], st["rejected"]) == (20, 7, 13)
    assert {k: v for k, v in st.items() if k.startswith("dropped_")} == {
        "dropped_incomplete": 4, "dropped_below_threshold": 4, "dropped_judge_out_of_range": 1,
        "dropped_judge_empty": 1, "dropped_judge_incomplete": 1, "dropped_llm_error": 1,
        "dropped_judge_injection": 1}
    assert st["reasked"] == 8
    # 9 answered at once, synonym and spider twice, 11 / empty / cut off three times, the 400 once;
    # the record that orders its own score is rejected before any request
    assert server.completions == 9 + 2 * 2 + 3 * 3 + 1
    # AlpaGasus's decoding is the op's default, whatever the llm block says
    assert {(c.body.get("temperature"), c.body.get("max_tokens")) for c in server.calls} == {(0.0, 256)}

    kept = ByInstruction(lines(out / "judge" / "data.jsonl"))
    assert len(kept) == 7
    synonym = kept["Give a synonym of 'happy'."]["meta"]["scores"]
    assert synonym == {"accuracy": 4.5, "accuracy_explanation": "Correct synonym."}
    assert kept["Remove the unnecessary word"]["meta"]["scores"]["accuracy"] == 4.5   # == threshold: kept

    rejected = ByInstruction(lines(out / "judge" / "rejected.jsonl"))
    injected = rejected["What is the capital of France?"]
    assert injected["reason"] == "judge_injection" and injected["raw"] == []
    assert injected["detail"] == 'the record addresses the judge (ignore_instructions: "Ignore previous instructions")'
    assert "scores" not in injected["record"]["meta"]
    spider = rejected["How many legs does a spider"]
    assert spider["reason"] == "below_threshold"
    code = spider["raw"][0].split()[0]      # the raw replies are kept whole, reply code included
    assert code.startswith("ANS-") and spider["raw"] == [f"{code} The answer is right.", f"{code} 4\nRight, but terse."]
    assert [r.split(" ", 1)[1] for r in rejected["Name a prime number"]["raw"]] == ["11", "11", "11"]
    assert rejected["Name a prime number"]["detail"] == "the score 11 is outside 0 to 5"
    assert rejected["Translate 'cat'"]["reason"] == "judge_empty"
    assert rejected["Write one sentence"]["reason"] == "judge_incomplete"
    assert rejected["Spell 'necessary'."]["reason"] == "llm_error"
    assert rejected["Convert 20 inches"]["reason"] == "incomplete"


def test_record_text_reaches_the_judge_inside_its_markers(tmp_path, server):
    server.reply_fn = judge_server(SCRIPT)
    path = recipe(tmp_path, server)     # the rule check off: the injected record is sent, in its markers
    path.write_text(path.read_text().replace("op: judge\n", "op: judge\n  injection: 'off'\n"))
    run_recipe(path, tmp_path / "run")
    seen = {}
    for call in server.calls:
        code, inside, outside = split_record(call.messages[1]["content"])
        task = section(inside, code, "task")
        seen[task[:20]] = (call, code, inside, outside)
    call, code, inside, outside = seen["Explain what {{ x }}"]
    assert section(inside, code, "task") == ("Explain what {{ x }}, {% for i in items %} and "
                                             "{0.__class__} mean in a template.")
    assert "{{ x }} prints x, {% for %} loops, {0.__class__} reads" in section(inside, code, "answer")
    call, code, inside, outside = seen["What is the capital "]
    assert "Ignore previous instructions" in inside and "### Instruction:" in inside
    assert "Ignore previous" not in outside and "###" not in outside
    assert all("Ignore previous" not in c.messages[0]["content"] for c in server.calls)


def test_threshold_and_custom_dimension(tmp_path, server):
    server.reply_fn = judge_server(SCRIPT)
    path = recipe(tmp_path, server)
    text = path.read_text().replace("op: judge\n", "op: judge\n  threshold: 2.5\n  dimension: helpfulness\n")
    path.write_text(text)
    out = tmp_path / "run"
    run_recipe(path, out)
    st = stats(out, "judge")
    # 2.5 and up now pass: the 8 Alpaca answers, the template, synonym and spider records
    assert (st["records_out"], st.get("dropped_below_threshold", 0), st["dropped_judge_injection"]) == (11, 0, 1)
    kept = lines(out / "judge" / "data.jsonl")
    assert all("helpfulness" in r["meta"]["scores"] for r in kept)
    assert any("rate the helpfulness" in c.messages[0]["content"] for c in server.calls)


def test_rerun_sends_nothing_and_budget_stop_resumes_without_paying_twice(tmp_path, server):
    server.reply_fn = judge_server(SCRIPT)
    out = tmp_path / "run"
    with pytest.raises(BudgetError):
        run_recipe(recipe(tmp_path, server, max_requests=9), out)
    assert server.completions == 9
    run_recipe(recipe(tmp_path, server), out)
    assert stats(out, "judge")["records_out"] == 7
    assert {k: n for k, n in server.hits.items() if n > 1} == {}     # no request paid twice
    assert server.completions == 23                                  # as many as one clean run
    total = server.completions
    assert run_recipe(recipe(tmp_path, server), out) == {"alpaca": "skipped", "special": "skipped",
                                                         "judge": "skipped"}
    assert server.completions == total


def test_system_prompt_canary_never_reaches_the_dataset(tmp_path, server):
    canary = "CANARY-SYS-4242"
    # a judge that leaks its whole system prompt into every explanation
    server.reply_fn = echo_code(lambda call: ok("5\n" + call.messages[0]["content"])(call))
    stages = [{"id": "special", "op": "ingest", "source": "messages", "path": str(SPECIAL)},
              {"id": "judge", "op": "judge", "inputs": ["special"], "dimension": "accuracy",
               "criterion": f"correctness ({canary})."},
              {"id": "export", "op": "export", "inputs": ["judge"]}]
    out = tmp_path / "run"
    run_recipe(write_recipe(tmp_path, "canary", llm_block(server), stages), out)
    assert stats(out, "judge")["records_out"] == 7                   # all but the injected record
    assert canary in (out / "judge" / "data.jsonl").read_text()          # kept for audit in the run folder
    dataset = out / "export" / "dataset"
    assert sorted(p.name for p in dataset.iterdir()) == ["README.md", "dataset_info.json", "train.jsonl"]
    assert all(canary not in p.read_text() for p in dataset.iterdir())
