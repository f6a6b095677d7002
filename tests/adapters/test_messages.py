from tests.adapters.helpers import check_malformed_jsonl, ingest, jsonl, write

CHAT = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]}]


def test_golden_openai_row_keeps_meta(tmp_path):
    row = {"id": "conv-1", "messages": CHAT, "meta": {"source": "mine", "lang": "en"}}
    rec = ingest(tmp_path, "messages", write(tmp_path, "m.jsonl", jsonl(row))).records[0]
    assert rec["messages"][-1] == {"role": "assistant", "content": "Hello\nthere"}
    assert rec["meta"] == {"source": "mine", "lang": "en", "orig_id": "conv-1", "license": "unknown",
                           "stage": "main"}


def test_malformed(tmp_path):
    check_malformed_jsonl(tmp_path, "messages", {"messages": CHAT}, "messages", {"role": "user"})
    res = ingest(tmp_path, "messages", write(tmp_path, "m.jsonl", jsonl(
        {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
        {"messages": [{"role": "user"}]}, {"messages": [{"role": "tool", "content": "x"}]})))
    assert res.reasons() == {"roles_not_alternating": 1, "bad_schema:messages[0].content": 1, "bad_role": 1}
