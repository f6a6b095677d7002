"""Each generation op end to end in a recipe against the local fake OpenAI server: counters,
rejection reasons, record provenance, the requests sent, chat and completions endpoints."""

from __future__ import annotations

import json
import re

import pytest

from pipeline.gen.checks import prompt_line
from tests.conftest import ROOT
from tests.gen.conftest import ALPACA, SEEDS, lines, reasons, run_recipe, stats, write_recipe

GUIDED = str(ROOT / "recipes" / "attributes" / "guided_example.yaml")


def run_op(tmp_path, server, stage: dict, **kw):
    out = tmp_path / "run"
    run_recipe(write_recipe(tmp_path, server.base_url, stage, **kw), out)
    st = stats(out)
    assert st["requests"] == server.completions == sum(server.hits.values())
    assert sum(reasons(out).values()) == st["rejected"] == len(lines(out / "gen" / "rejected.jsonl"))
    assert st["records_out"] == len(lines(out / "gen" / "data.jsonl"))
    assert st["records_in"] + st["generated"] == st["records_out"] + st["rejected"] + st.get("consumed", 0)
    return out, st


def seed_instructions() -> set[str]:
    return {prompt_line(r["instruction"]) for r in lines(SEEDS)}


def test_self_instruct_chat(tmp_path, server, capfd):
    out, st = run_op(tmp_path, server, {"op": "self_instruct", "target": 20, "requests_per_round": 4})
    drops = sorted(reasons(out).items(), key=lambda kv: (-kv[1], kv[0]))
    assert (f"[gen] self_instruct: {st['generated']} generated; {st['records_out']} kept; 20 instructions kept; "
            f"rejected: {', '.join(f'{k} {v}' for k, v in drops)}\n") in capfd.readouterr().err
    assert st["instructions_kept"] == 20 and st["consumed"] == 175
    assert st["classification_tasks"] + st["generation_tasks"] == 20
    assert st["instances_kept"] == st["records_out"]
    assert {"banned_keyword", "too_short", "write_a_program", "echoed_example", "truncated",
            "too_similar"} <= set(reasons(out))
    first = server.calls[0].body
    assert first["temperature"] == 0.7 and first["top_p"] == 0.5 and first["presence_penalty"] == 2.0
    assert first["max_tokens"] == 1024 and first["stop"] == ["\n16", "16.", "16 ."]
    prompt = first["messages"][0]["content"]
    shown = re.findall(r"(?m)^\d\. (.+)$", prompt)
    assert len(shown) == 8 and set(shown) <= seed_instructions()
    assert "numbered 9 to 15" in prompt
    rows = lines(out / "gen" / "data.jsonl")
    tasks = {r["meta"]["instruction_id"]: r["meta"] for r in rows}
    assert len(tasks) <= 20
    for r in rows:
        m = r["meta"]
        assert m["source"] == "self_instruct" and len(m["parents"]) == 8 and m["model"] == "fake-model"
        assert 0 < len(m["most_similar"]) <= 10 and all(s <= 0.7 for s in m["most_similar"].values())
        assert isinstance(m["avg_similarity"], float) and m["prompt"] == "self_instruct_tasks@1"
        user = r["messages"][0]["content"]
        assert user == (f"{m['instruction']}\n\n{m['input']}" if m["input"] else m["instruction"])
        if m["is_classification"]:
            assert m["instruction"].startswith("Classify") and r["messages"][1]["content"] in (
                "Positive", "Negative", "Neutral")
    instance_rows = [c for c in server.calls if "Write example inputs" in c.last_user]
    assert all(c.body["temperature"] == 0.0 and c.body["stop"] == ["Example 6", "Task:"] for c in instance_rows)


def test_self_instruct_finetuning_format_as_the_reference(tmp_path, server):
    from pipeline.gen.finetune_format import WITH_INPUT, WITHOUT_INPUT

    out, st = run_op(tmp_path, server, {"op": "self_instruct", "target": 10, "requests_per_round": 4,
                                        "finetuning_format": True})
    rows = lines(out / "gen" / "data.jsonl")
    seeds = [r for r in rows if "seed_instruction" in r["meta"]]
    # every seed instance comes along (none consumed), formatted like the machine instances
    assert st.get("consumed", 0) == 0 and len(seeds) == sum(len(t["instances"]) for t in lines(SEEDS))
    assert len(rows) - len(seeds) == st["instances_kept"] > 0
    shapes = [re.compile(re.escape(t).replace(re.escape("{instruction}"), "(?s:.+)")
                         .replace(re.escape("{input}"), "(?s:.+)")) for t in WITH_INPUT + WITHOUT_INPUT]
    used = set()
    for r in rows:
        user = r["messages"][0]["content"]
        hits = [i for i, shape in enumerate(shapes) if shape.fullmatch(user + "\n" * 2)
                or shape.fullmatch(user) or shape.fullmatch(user + "\n")]
        assert hits and r["meta"]["finetuning_format"] is True, user
        used.update(hits)
    assert len(used) >= 8                      # templates are drawn at random, with and without input
    # half of the inputs with a single `Field:` name lose it (a seeded draw per record)
    fielded = [r for r in rows if re.fullmatch(r"[A-Z]\w*: .+", r["meta"].get("input") or "", re.S)
               and len(set(re.findall(r"(\w+):", r["meta"]["input"]))) == 1]
    kept_prefix = sum(r["meta"]["input"] in r["messages"][0]["content"] for r in fielded)
    assert fielded and 0 < kept_prefix < len(fielded)


def test_self_instruct_completions_endpoint_and_open_instructions(tmp_path, server):
    out, st = run_op(tmp_path, server, {"op": "self_instruct", "target": 12, "generate_instances": False},
                     llm={"endpoint": "completions"})
    assert set(server.paths) - {"GET /models"} == {"POST /completions"}  # GET /models: the preflight
    assert server.calls[0].body["prompt"].endswith("\n9.")
    assert server.calls[0].body["stop"] == ["\n\n", "\n16", "16.", "16 ."]
    rows = lines(out / "gen" / "data.jsonl")
    assert st["records_out"] == 12 == len(rows) and all(len(r["messages"]) == 1 for r in rows)
    kept = [r["messages"][0]["content"] for r in rows]
    assert len(set(kept)) == 12 and not set(kept) & seed_instructions()


def test_self_instruct_classification_seeds_only(tmp_path, server):
    out, st = run_op(tmp_path, server, {"op": "self_instruct", "target": 5, "classification_seeds_only": True,
                                        "generate_instances": False})
    prompt = server.calls[0].body["messages"][0]["content"]
    clf = {prompt_line(r["instruction"]) for r in lines(SEEDS) if r["is_classification"]}
    assert prompt.startswith("Brainstorm a numbered list of diverse classification tasks.")
    assert set(re.findall(r"(?m)^\d\. (.+)$", prompt)) <= clf


def test_alpaca_instruct(tmp_path, server):
    out, st = run_op(tmp_path, server, {"op": "alpaca_instruct", "target": 15})
    assert st["records_out"] == 15 and {"empty_output"} <= set(reasons(out))
    first = server.calls[0].body
    assert first["temperature"] == 1.0 and first["max_tokens"] == 3072 and first["stop"] == ["\n20", "20."]
    assert first["messages"][0]["content"].count("###\n") == 3
    for r in lines(out / "gen" / "data.jsonl"):
        m = r["meta"]
        assert len(m["parents"]) == 3 and "most_similar" in m and r["messages"][1]["content"]
        assert (m["input"] in r["messages"][0]["content"]) and "<noinput>" not in r["messages"][0]["content"]


@pytest.mark.parametrize("op", ["evol_instruct", "evol_code"])
def test_evol(tmp_path, server, op):
    # the scripted model draws its replies from a hash of the request: these settings keep the
    # requests (and so the draws) of the scenario below; the defaults are checked in the next test
    plain = {"system": None, "response_max_tokens": None, "response_temperature": None, "response_top_p": None}
    out, st = run_op(tmp_path, server, {"op": op, "rounds": 3, "eliminate": True, **plain},
                     seeds={"source": "alpaca", "path": str(ALPACA), "limit": 10})
    assert st["generated"] == 30 and st["consumed"] == 10
    rows = lines(out / "gen" / "data.jsonl")
    rejected = lines(out / "gen" / "rejected.jsonl")
    by_id = {r["id"]: r for r in rows}
    seeds = {r["id"]: r for r in lines(out / "seeds" / "data.jsonl")}
    for r in rows:
        m = r["meta"]
        assert m["source"] == op and 1 <= m["round"] <= 3 and len(r["messages"]) == 2
        parent = m["parents"][0]
        assert parent in seeds or by_id[parent]["meta"]["round"] < m["round"]
    assert sum(st.get(f"kept_round_{i}", 0) for i in (1, 2, 3)) == len(rows)
    if op == "evol_instruct":
        assert {"copied_prompt_words", "no_information_gain", "response_sorry"} <= set(reasons(out))
        failed = [x["record"] for x in rejected if x.get("record")]
        # a failed evolution leaves its instruction for the next round: same parent again later
        assert any(any(r["meta"]["parents"] == f["meta"]["parents"] and r["meta"]["round"] > f["meta"]["round"]
                       for r in rows + failed) for f in failed)
        ops = {r["meta"]["operation"] for r in rows + failed}
        assert ops <= {"add_constraints", "deepening", "concretizing", "increased_reasoning",
                       "complicate_input", "breadth"} and len(ops) >= 4


def test_evol_defaults_follow_wizardlm_and_wizardcoder(tmp_path, server):
    out, st = run_op(tmp_path, server, {"op": "evol_code", "rounds": 2},
                     seeds={"source": "alpaca", "path": str(ALPACA), "limit": 10})
    # WizardCoder answers every evolution: no elimination rule fires, no equality check is asked
    assert st["records_out"] + st["rejected"] == 20
    assert not {"copied_prompt_words", "no_information_gain", "response_sorry", "response_only_stopwords"} \
        & set(reasons(out))
    assert not any("Your verdict" in c.body["messages"][-1]["content"] for c in server.calls)
    # every evolving and answering call carries WizardLM's system message and sampling
    assert all(c.body["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
               and c.body["temperature"] == 1 and c.body["top_p"] == 0.95 and c.body["max_tokens"] == 2048
               for c in server.calls)


def test_guided_instruct_with_existing_records_in_the_pool(tmp_path, server):
    out, st = run_op(tmp_path, server, {"op": "guided_instruct", "target": 6, "attributes": GUIDED,
                                        "pass_seeds": True})
    rows = lines(out / "gen" / "data.jsonl")
    assert st["records_in"] == 175 and st["records_out"] == 181 and st.get("consumed", 0) == 0
    assert sum(1 for r in rows if r["meta"].get("source") == "guided_instruct") == 6
    generated = [r for r in rows if r["meta"].get("source") == "guided_instruct"]
    assert all(len(r["meta"]["most_similar"]) > 0 for r in generated)


def test_guided_instruct(tmp_path, server):
    out, st = run_op(tmp_path, server, {"op": "guided_instruct", "inputs": [], "target": 12, "attributes": GUIDED})
    rows = lines(out / "gen" / "data.jsonl")
    assert st["records_out"] == 12 and st["records_in"] == 0
    combos = [r["meta"]["attributes"] for r in rows]
    assert all(set(c) == {"topic", "subtopic", "task_type", "style", "audience", "length", "language"}
               for c in combos)
    prompts = [c.body["messages"][0]["content"] for c in server.calls]  # calls arrive in any order
    assert any(f"- Topic: {combos[0]['topic']}\n- Subtopic: {combos[0]['subtopic']}\n" in p for p in prompts)


def test_unnatural_instruct(tmp_path, server):
    out, st = run_op(tmp_path, server, {"op": "unnatural_instruct", "target": 10, "reformulations": 2})
    rows = lines(out / "gen" / "data.jsonl")
    core = [r for r in rows if r["meta"]["variant"] == "instance"]
    reform = [r for r in rows if r["meta"]["variant"] == "reformulation"]
    dropped = [x["reason"] for x in lines(out / "gen" / "rejected.jsonl")
               if x.get("record", {}).get("meta", {}).get("variant") == "reformulation"]
    assert len(core) == 10 and len(reform) + len(dropped) == 20
    assert {"duplicate", "no_input_placeholder"} <= set(dropped)
    outputs = [c for c in server.calls if "Reply with the output only." in c.last_user]
    assert len(outputs) == 10 and all(c.body["temperature"] == 0.0 for c in outputs)
    core_ids = {r["id"]: r for r in core}
    for r in reform:
        parent = core_ids[r["meta"]["parents"][0]]
        assert "{INPUT}" in r["meta"]["instruction_with_placeholder"]
        assert parent["meta"]["input"] in r["messages"][0]["content"]
        assert r["messages"][1] == parent["messages"][1]


@pytest.mark.parametrize("op,params,first", [
    ("self_instruct", {"requests_per_round": 3}, 3), ("alpaca_instruct", {}, 5),
    ("unnatural_instruct", {}, 10), ("evol_instruct", {}, 175)])
def test_dry_run_renders_the_first_round_and_sends_nothing(tmp_path, server, op, params, first):
    out = tmp_path / "run"
    run_recipe(write_recipe(tmp_path, server.base_url, {"op": op, **params}), out, dry_run=True)
    summary = json.loads((out / "dry-run" / "summary.json").read_text())["gen"]
    assert summary["rendered"] and summary["requests"] == first
    assert server.completions == 0


@pytest.mark.parametrize("op,params,seeds", [
    ("self_instruct", {"target": 8}, None),
    ("evol_instruct", {"rounds": 2}, {"source": "alpaca", "path": str(ALPACA), "limit": 6})])
def test_batch_mode_gives_the_records_of_online_mode(tmp_path, server, op, params, seeds):
    outs = {}
    for mode in ("online", "batch"):
        llm = {"mode": mode, "batch_poll": 0.05, "batch_poll_max": 0.1}
        run_recipe(write_recipe(tmp_path / mode, server.base_url, {"op": op, **params}, seeds=seeds, llm=llm),
                   tmp_path / mode / "run")
        outs[mode] = [r["id"] for r in lines(tmp_path / mode / "run" / "gen" / "data.jsonl")]
    assert outs["batch"] == outs["online"] and outs["online"]
    assert server.paths["POST /batches"] >= 3
