import json

import pytest

from pipeline.adapters import fastchat_clean
from pipeline.errors import ConfigError
from tests.adapters.helpers import check_malformed_jsonl, ingest, jsonl, write
from tests.conftest import FIXTURES

SG = FIXTURES / "sharegpt"
DUMMY = SG / "fastchat_dummy_conversation.json"
VARIANTS = SG / "sharegpt_variants.json"


def test_500_fastchat_conversations(tmp_path):
    res = ingest(tmp_path, "sharegpt", DUMMY)
    assert res.stats["records_in"] == 500 and len(res.records) == 500 and res.rejected == []
    raw = json.loads(DUMMY.read_text())
    assert sorted(len(r["messages"]) for r in res.records) == sorted(len(c["conversations"]) for c in raw)


def test_golden_conversation(tmp_path):
    rec = ingest(tmp_path, "sharegpt", DUMMY).records[0]
    assert rec["messages"] == [
        {"role": "user", "content": "Who are you?"},
        {"role": "assistant", "content": "I am Vicuna, a language model trained by researchers from Large Model "
                                         "Systems Organization (LMSYS)."},
        {"role": "user", "content": "Have a nice day!"}, {"role": "assistant", "content": "You too!"}]
    assert rec["meta"] == {"source": "sharegpt", "orig_id": "identity_0", "license": "unknown", "stage": "main"}


def test_role_variants_system_and_bad_order(tmp_path):
    res = ingest(tmp_path, "sharegpt", VARIANTS)
    assert len(res.records) == 3
    assert res.reasons() == {"roles_not_alternating": 1, "unknown_role": 1}
    assert [r["reason"] for r in res.rejected] == ["roles_not_alternating@turn2", "unknown_role@turn2"]
    roles = res.records[1]
    assert roles["messages"] == [{"role": "system", "content": "You are a helpful assistant."},
                                 {"role": "user", "content": "Name a prime number."},
                                 {"role": "assistant", "content": "7"}, {"role": "user", "content": "Another one?"},
                                 {"role": "assistant", "content": "11"}]
    assert res.stats["trailing_user_turns_dropped"] == 1
    assert res.records[2]["messages"][1] == {"role": "assistant", "content": "4"}


def test_html_to_markdown_and_fastchat_cleanups(tmp_path):
    res = ingest(tmp_path, "sharegpt", VARIANTS, clean_html=True, fastchat_clean=True)
    answer = res.records[0]["messages"][1]["content"]
    assert answer == 'Use the `print` function:\n\n```python\nprint("hello")\n```'
    assert fastchat_clean.fastchat_clean("2 / 2Sure.\n\n\nCopy12 chars / 3 words") == "Sure."


def test_markdownify_missing_is_a_clear_error(tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_markdownify(name, *args, **kwargs):
        if name == "markdownify":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_markdownify)
    with pytest.raises(ConfigError, match=r"needs the 'markdownify' package: pip install 'instructpipe\[sharegpt\]'"):
        ingest(tmp_path, "sharegpt", VARIANTS, clean_html=True)


def test_openai_mentions_and_too_few_turns(tmp_path):
    rows = jsonl({"id": "a", "conversations": [{"from": "human", "value": "Hi"},
                                               {"from": "gpt", "value": "I am ChatGPT"}]},
                 {"id": "b", "conversations": [{"from": "human", "value": "Hi"}]})
    res = ingest(tmp_path, "sharegpt", write(tmp_path, "s.jsonl", rows), drop_openai_mentions=True, fastchat_clean=True)
    assert res.reasons() == {"mentions_blocklisted": 1, "too_few_turns": 1}


def test_split_under_token_budget(tmp_path):
    long = "word " * 80  # about 100 tokens by the estimate
    turns = []
    for i in range(4):
        turns += [{"from": "human", "value": f"Question {i}? {long}"}, {"from": "gpt", "value": f"Answer {i}."}]
    rows = jsonl({"id": "c1", "system": "Sys.", "conversations": turns},
                 {"id": "c2", "conversations": [{"from": "human", "value": long * 5}, {"from": "gpt", "value": "ok"}]})
    res = ingest(tmp_path, "sharegpt", write(tmp_path, "s.jsonl", rows), max_tokens=250)
    pieces = [r for r in res.records if r["meta"]["orig_id"] == "c1"]
    assert [r["meta"]["piece"] for r in pieces] == [0, 4]
    assert all(r["messages"][0] == {"role": "system", "content": "Sys."} for r in pieces)
    assert [len(r["messages"]) for r in pieces] == [5, 5]
    assert sum(fastchat_clean.piece_tokens(r["messages"]) <= 250 for r in pieces) == 2
    assert res.reasons() == {"too_long": 1} and res.rejected[0]["tokens"] > 250
    assert res.stats["generated"] == 1 and res.stats["conversations_split"] == 1


def test_token_estimate():
    assert fastchat_clean.approx_tokens("abcdefgh") == 2
    assert fastchat_clean.approx_tokens("你好世界") == 4


def test_malformed(tmp_path):
    good = {"id": "x", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}
    check_malformed_jsonl(tmp_path, "sharegpt", good, "conversations", "Hi")
    res = ingest(tmp_path, "sharegpt", write(tmp_path, "s.jsonl", jsonl(
        {"conversations": [{"from": "human"}]}, {"conversations": [{"value": "x"}]},
        {"conversations": [{"from": "gpt", "value": "first"}, {"from": "human", "value": "q"}]},
        {"conversations": [{"from": "human", "value": 42}, {"from": "gpt", "value": ["a"]}]})))
    assert res.reasons() == {"bad_schema:conversations[0].value": 1, "bad_schema:conversations[0].from": 1,
                             "first_turn_not_user": 1, "bad_schema:conversations[1].value": 1}
