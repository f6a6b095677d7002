import json

import pytest

from pipeline.errors import InputError
from tests.adapters.helpers import SHARED, check_malformed_jsonl, ingest, jsonl, needs_shared, write
from tests.conftest import SAMPLES


def test_bundled_sample(tmp_path):
    res = ingest(tmp_path, "alpaca", SAMPLES / "alpaca_sample.json")
    assert len(res.records) == 250 and res.rejected == []
    assert sum(1 for r in res.records if r["messages"][-1]["role"] == "user") == 5


def test_golden_row_with_system_history_and_noinput(tmp_path):
    row = {"instruction": "Translate to French.", "input": "<noinput>", "output": " Bonjour ",
           "system": "Be brief.", "history": [["Hi", "Hello!"]], "id": 7}
    rec = ingest(tmp_path, "alpaca", write(tmp_path, "a.jsonl", jsonl(row))).records[0]
    assert rec["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                               {"role": "assistant", "content": "Hello!"},
                               {"role": "user", "content": "Translate to French."},
                               {"role": "assistant", "content": "Bonjour"}]
    assert rec["meta"]["orig_id"] == 7


def test_malformed(tmp_path):
    check_malformed_jsonl(tmp_path, "alpaca", {"instruction": "Say hi.", "input": "", "output": "Hi"},
                          "instruction", ["x"])
    res = ingest(tmp_path, "alpaca", write(tmp_path, "a.jsonl", jsonl(
        {"instruction": None, "output": "x"}, {"instruction": "q", "output": 5}, {"instruction": "q", "history": [1]},
        {"instruction": "q", "input": True})))
    assert res.reasons() == {"empty_instruction": 1, "bad_schema:history[0]": 1, "bad_schema:input": 1}
    assert res.records[0]["messages"][1] == {"role": "assistant", "content": "5"}


def test_truncated_json_array_names_line(tmp_path):
    with pytest.raises(InputError, match=r"arr\.json:\d+:\d+: "):
        ingest(tmp_path, "alpaca", write(tmp_path, "arr.json", '[{"instruction": "a", "output": "b"},\n{"instr'))


@pytest.mark.slow
@needs_shared
def test_full_alpaca_52k(tmp_path):
    path = SHARED / "alpaca" / "alpaca_data.json"
    res = ingest(tmp_path, "alpaca", path)
    assert res.stats["records_in"] == 52002
    assert len(res.records) + len(res.rejected) == 52002
    empty_outputs = sum(1 for r in json.loads(path.read_text()) if not r["output"].strip())
    assert sum(1 for r in res.records if r["messages"][-1]["role"] == "user") == empty_outputs
