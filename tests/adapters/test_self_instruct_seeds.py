import json

from tests.adapters.helpers import check_malformed_jsonl, ingest, jsonl, write
from tests.conftest import SAMPLES

SEEDS = SAMPLES / "self_instruct_seed_tasks.jsonl"


def test_175_seed_tasks(tmp_path):
    res = ingest(tmp_path, "self_instruct_seeds", SEEDS)
    assert res.stats["records_in"] == 175 and len(res.records) == 175 and res.rejected == []
    assert sum(r["meta"]["is_classification"] for r in res.records) == 26


def test_golden_seed(tmp_path):
    raw = json.loads(SEEDS.read_text().splitlines()[0])
    rec = ingest(tmp_path, "self_instruct_seeds", SEEDS).records[0]
    inst = raw["instances"][0]
    user = raw["instruction"].strip() + ("\n\n" + inst["input"].strip() if inst["input"].strip() else "")
    assert rec["messages"] == [{"role": "user", "content": user},
                               {"role": "assistant", "content": inst["output"].strip()}]
    assert rec["meta"] == {"source": "self_instruct_seeds", "is_classification": raw["is_classification"],
                           "seed_instruction": raw["instruction"].strip(), "orig_id": raw["id"],
                           "task": raw["name"], "license": "Apache-2.0", "stage": "main"}


def test_malformed(tmp_path):
    good = {"id": "seed_task_0", "name": "x", "instruction": "Say hi.", "is_classification": False,
            "instances": [{"input": "", "output": "Hi"}]}
    check_malformed_jsonl(tmp_path, "self_instruct_seeds", good, "instances", "none")
    res = ingest(tmp_path, "self_instruct_seeds", write(tmp_path, "s.jsonl", jsonl(
        {**good, "is_classification": "no"}, {**good, "instances": [{"input": 1, "output": ["a"]}]})))
    assert res.reasons() == {"bad_schema:is_classification": 1, "bad_schema:instances[0].output": 1}
