from tests.adapters.helpers import check_malformed_jsonl, ingest, jsonl, write
from tests.conftest import FIXTURES

OIG = FIXTURES / "oig"


def test_jsonl_dialogues_single_and_multi_turn(tmp_path):
    res = ingest(tmp_path, "oig", OIG / "oig_sample.jsonl")
    assert len(res.records) == 4 and res.rejected == []
    assert [len(r["messages"]) for r in res.records] == [2, 4, 2, 2]
    assert res.records[2]["messages"] == [
        {"role": "user", "content": "Background: Bulgaria's barcode prefix is 380 and Slovenia's is 383.\n\n"
                                    "What is the barcode prefix of Slovenia?"},
        {"role": "assistant", "content": "383."}]
    assert res.records[2]["meta"]["task"] == "handwritten"


def test_real_training_text_file(tmp_path):
    res = ingest(tmp_path, "oig", OIG / "training_text_example.txt")
    assert len(res.records) == 4
    first = res.records[0]
    assert first["messages"][0] == {"role": "user", "content": "I want to learn a new language, what are the "
                                                              "benefits of learning Spanish?"}
    assert first["messages"][1]["content"].startswith("The benefits of learning Spanish include")
    assert first["messages"][1]["content"].endswith("great Spanish-speaking authors and poets.")
    assert res.rejected == []           # the 4 dialogues end with <|endoftext|>; nothing else is a record
    # the same dialogues from the JSONL form give the same records
    jsonl_recs = ingest(tmp_path, "oig", OIG / "oig_sample.jsonl").records
    assert first["messages"] == jsonl_recs[0]["messages"]


def test_malformed(tmp_path):
    check_malformed_jsonl(tmp_path, "oig", {"text": "<human>: Hi\n<bot>: Hello"}, "text", ["x"])
    rows = jsonl({"text": "no tags here"}, {"text": "<human>: a\n<human>: b\n<bot>: c"}, {"text": "<bot>: first"})
    res = ingest(tmp_path, "oig", write(tmp_path, "o.jsonl", rows))
    assert res.records == []
    assert res.reasons() == {"no_speaker_tags": 1, "roles_not_alternating": 1, "first_turn_not_user": 1}
    assert res.rejected[1]["reason"] == "roles_not_alternating@turn2"
