from tests.adapters.helpers import check_malformed_jsonl, ingest, jsonl, write
from tests.conftest import FIXTURES

CORE = FIXTURES / "unnatural" / "core_data_sample.jsonl"
FULL = FIXTURES / "unnatural" / "full_data_sample.jsonl"
INSTANCE = {"instruction_with_input": "Say hi.\nName: Ann", "input": "Name: Ann",
            "constraints": "One word.", "output": "Hi"}


def test_core_one_record_per_instance_with_constraints(tmp_path):
    res = ingest(tmp_path, "unnatural", CORE)
    assert len(res.records) == 3 and res.stats["records_in"] == 3
    assert res.records[0]["messages"] == [
        {"role": "user", "content": "You are given a sentence. Classify its sentiment as positive or negative.\n"
                                    "The movie was a delight from start to finish.\n\n"
                                    "The output should be 'positive' or 'negative'."},
        {"role": "assistant", "content": "positive"}]
    assert res.records[0]["meta"] == {
        "source": "unnatural", "lang": "en", "variant": "instance", "license": "MIT", "stage": "main",
        "seed_instruction": "You are given a sentence. Classify its sentiment as positive or negative."}


def test_full_adds_reformulations(tmp_path):
    res = ingest(tmp_path, "unnatural", FULL)
    assert len(res.records) == 2 + 3 and res.stats["generated"] == 3
    reform = [r for r in res.records if r["meta"]["variant"] == "reformulation"]
    assert reform[0]["messages"][0]["content"] == ("Decide whether the sentence 'The movie was a delight from "
                                                   "start to finish.' expresses a positive or a negative sentiment.")
    assert len(ingest(tmp_path, "unnatural", FULL, reformulations=False).records) == 2
    plain = ingest(tmp_path, "unnatural", CORE, constraints=False).records[0]["messages"][0]["content"]
    assert plain.endswith("from start to finish.")


def test_malformed(tmp_path):
    check_malformed_jsonl(tmp_path, "unnatural", {"instruction": "Say hi.", "instances": [INSTANCE]},
                          "instances", {"a": 1})
    rows = jsonl({"instruction": "Say hi.", "instances": [INSTANCE, {**INSTANCE, "output": None},
                                                          {**INSTANCE, "constraints": [1]}, "x",
                                                          {**INSTANCE, "output": "  "}]})
    res = ingest(tmp_path, "unnatural", write(tmp_path, "u.jsonl", rows))
    assert len(res.records) == 1
    assert res.reasons() == {"bad_schema:instances[1].output": 1, "bad_schema:instances[2].constraints": 1,
                             "bad_schema:instances[3]": 1, "empty_output": 1}
