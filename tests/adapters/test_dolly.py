import json

from tests.adapters.helpers import check_malformed_jsonl, ingest, jsonl, write
from tests.conftest import FIXTURES

DOLLY = FIXTURES / "dolly"


def test_renamed_variant_keeps_category(tmp_path):
    res = ingest(tmp_path, "dolly", DOLLY / "alpagasus_dolly_slice.json")
    assert len(res.records) == 40 and res.rejected == []
    assert res.records[0]["meta"] == {"source": "dolly", "lang": "en", "category": "general_qa",
                                      "license": "CC-BY-SA-3.0", "stage": "main"}
    assert res.records[0]["messages"][0] == {"role": "user", "content": "How do I start running?"}


def test_golden_original_schema_row_with_context(tmp_path):
    rows = [json.loads(x) for x in (DOLLY / "dolly15k_schema_sample.jsonl").read_text().splitlines()]
    res = ingest(tmp_path, "dolly", DOLLY / "dolly15k_schema_sample.jsonl")
    assert len(res.records) == 6
    assert res.records[0]["messages"] == [
        {"role": "user", "content": rows[0]["instruction"].strip() + "\n\n" + rows[0]["context"].strip()},
        {"role": "assistant", "content": rows[0]["response"].strip()}]


def test_citation_markers_are_stripped(tmp_path):
    last = ingest(tmp_path, "dolly", DOLLY / "dolly15k_schema_sample.jsonl").records[-1]
    assert last["messages"] == [
        {"role": "user", "content": "When was the barcode prefix system introduced?\n\nGS1 prefixes identify the "
                                    "member organisation that issued a barcode. The first prefixes were assigned "
                                    "in the 1970s."},
        {"role": "assistant", "content": "The first prefixes were assigned in the 1970s."}]
    kept = ingest(tmp_path, "dolly", DOLLY / "dolly15k_schema_sample.jsonl", strip_citations=False).records[-1]
    assert "[12][13]" in kept["messages"][0]["content"]


def test_malformed(tmp_path):
    good = {"instruction": "Name a fruit.", "context": "", "response": "Apple", "category": "open_qa"}
    check_malformed_jsonl(tmp_path, "dolly", good, "instruction", ["x"])
    res = ingest(tmp_path, "dolly", write(tmp_path, "d.jsonl", jsonl(
        {**good, "instruction": None}, {**good, "response": 3}, {k: v for k, v in good.items() if k != "response"},
        {**good, "category": {"a": 1}})))
    assert res.reasons() == {"empty_instruction": 1, "bad_schema:response": 1, "bad_schema:category": 1}
    assert res.records[0]["messages"][1]["content"] == "3"
