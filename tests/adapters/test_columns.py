"""`columns:` on the alpaca and messages sources (LLaMA-Factory dataset_info style)."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from tests.adapters.helpers import ingest, jsonl, write
from tests.conftest import cli


def test_alpaca_columns_map_other_field_names(tmp_path):
    rows = [{"question": "What is 2+2?", "ctx": "Use digits.", "std_answer": "4", "sys": "Be terse.",
             "turns": [["Hi", "Hello"]], "instruction": "ignored: the mapping wins", "id": 3},
            {"question": "Open one", "std_answer": ""}]
    res = ingest(tmp_path, "alpaca", write(tmp_path, "qa.jsonl", jsonl(*rows)),
                 columns={"instruction": "question", "input": "ctx", "output": "std_answer", "system": "sys",
                          "history": "turns"})
    assert res.records[0]["messages"] == [
        {"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "What is 2+2?\n\nUse digits."},
        {"role": "assistant", "content": "4"}]
    assert res.records[0]["meta"]["orig_id"] == 3
    assert res.records[1]["messages"] == [{"role": "user", "content": "Open one"}]


def test_alpaca_columns_missing_or_bad_field_names_the_files_field(tmp_path):
    rows = [{"prompt": "q1", "completion": "a1"}, {"completion": "a2", "instruction": "not mapped"},
            {"prompt": "q3", "completion": ["a", "list"]}, {"prompt": "q4", "completion": "a4", "hist": [1]}]
    res = ingest(tmp_path, "alpaca", write(tmp_path, "pc.jsonl", jsonl(*rows)), lenient=True,
                 columns={"instruction": "prompt", "output": "completion", "history": "hist"})
    assert len(res.records) == 1
    assert res.reasons() == {"bad_schema:prompt": 1, "bad_schema:completion": 1, "bad_schema:hist[0]": 1}
    missing = next(r for r in res.rejected if r["reason"] == "bad_schema:prompt")
    assert missing["raw"] == rows[1] and missing["detail"].startswith("prompt: missing")
    assert missing["where"].endswith("pc.jsonl:2")


def test_messages_columns_map_sharegpt_style_rows(tmp_path):
    rows = [{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}],
             "system_prompt": "Be kind.", "meta": {"k": 1}},
            {"conversations": [{"from": "human", "value": "Q"}, {"from": "bot", "value": "A"}]},
            {"conversations": [{"from": "human"}]},
            {"dialog": []}]
    res = ingest(tmp_path, "messages", write(tmp_path, "sg.jsonl", jsonl(*rows)),
                 columns={"messages": "conversations", "role": "from", "content": "value", "system": "system_prompt",
                          "roles": {"human": "user", "gpt": "assistant"}})
    assert res.records[0]["messages"] == [{"role": "system", "content": "Be kind."},
                                          {"role": "user", "content": "Hi"},
                                          {"role": "assistant", "content": "Hello!"}]
    assert res.records[0]["meta"]["k"] == 1
    reasons = res.reasons()
    assert reasons.pop("bad_schema:conversations[0].value") == 1
    assert reasons.pop("bad_schema:conversations") == 1
    assert sum(reasons.values()) == 1 and res.stats["records_out"] == 1  # the unknown role `bot`
    raw = next(r for r in res.rejected if r["reason"] == "bad_schema:conversations")["raw"]
    assert raw == rows[3]


def test_unknown_column_key_is_a_recipe_error(tmp_path):
    with pytest.raises(ConfigError, match=r"stages\[0\]\.columns\.instrcution: unknown key"):
        ingest(tmp_path, "alpaca", write(tmp_path, "x.jsonl", jsonl({"q": "a"})), columns={"instrcution": "q"})
    proc = cli("ingest", "alpaca", str(write(tmp_path, "y.jsonl", jsonl({"q": "a", "a": "b"}))), "-o",
               str(tmp_path / "out.jsonl"), "-p", "columns={instruction: q, output: a}")
    assert proc.returncode == 0, proc.stderr
    assert '"content":"a"' in (tmp_path / "out.jsonl").read_text()
