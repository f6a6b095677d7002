"""filter on real Alpaca and COIG records: every rule switched on alone, with exact counts;
PII redaction (any case), fail-closed redaction, language expectations."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import ConfigError
from pipeline.filters import pii
from pipeline.filters.rules import estimate_tokens, truncation

# Every Alpaca slice run also drops record 38895, whose answer repeats its instruction
# (`instruction_equals_output` is on by default).
ALPACA_RULES = [
    ({}, {}),
    ({"placeholders": True}, {"placeholder": 11}),
    ({"refusal": True}, {"refusal": 11}),
    ({"truncated": True}, {"truncated": 9}),
    ({"urls": "reject"}, {"url": 11}),
    ({"pii": "reject"}, {"pii": 11}),
    ({"max_ngram_repetition": 0.5}, {"repeated_ngrams": 10}),
    ({"max_line_repetition": 0.5}, {"repeated_lines": 4}),
    ({"max_tokens": 600}, {"tokens_too_long": 3}),
    ({"min_tokens": 20}, {"tokens_too_short": 18}),
    ({"min_words": 5, "max_words": 300}, {"response_too_short": 24, "response_too_long": 5}),
    ({"banned_keywords": ["image", "graph", "draw"]}, {"banned_keyword": 2}),
    ({"banned_keywords": ["image", "graph", "draw"], "banned_in": "instruction"}, {}),
]


@pytest.mark.parametrize("params,dropped", ALPACA_RULES)
def test_each_rule_on_alpaca(run_stages, params, dropped, ingest):
    r = run_stages(ingest("alpaca", "alpaca_slice.json"), {"id": "f", "op": "filter", "inputs": ["alpaca"], **params})
    assert r.reasons("f") == {"instruction_equals_output": 1, **dropped}
    assert r.stats("f")["records_out"] == 283 - sum(dropped.values())


def test_instruction_equals_output_can_be_switched_off(run_stages, ingest):
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "f", "op": "filter", "inputs": ["alpaca"], "instruction_equals_output": False})
    assert r.reasons("f") == {}


def test_rejections_name_what_was_found(run_stages, ingest):
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "f", "op": "filter", "inputs": ["alpaca"], "placeholders": True, "refusal": True})
    details = {x["detail"] for x in r.rejected("f")}
    assert "answer holds a leftover placeholder: '<nooutput>'" in details
    assert "answer refuses: 'cannot be completed by a GPT'" in details


CHINESE = [
    ("coig_ruozhiba.jsonl", {"boilerplate": True}, {"boilerplate": 1}),
    ("coig_ruozhiba.jsonl", {"min_tokens": 20}, {"tokens_too_short": 1}),
    ("coig_ruozhiba.jsonl", {"banned_keywords": ["图"]}, {"banned_keyword": 1}),
    ("coig_poem.jsonl", {"banned_keywords": ["图"]}, {"banned_keyword": 1}),
    ("coig_human_value.jsonl", {"refusal": True, "boilerplate": True, "placeholders": True, "truncated": True,
                                "pii": "reject", "urls": "reject", "max_ngram_repetition": 0.5}, {}),
    ("coig_poem.jsonl", {"min_words": 60, "max_words": 150}, {"response_too_short": 6, "response_too_long": 2}),
]


@pytest.mark.parametrize("file,params,dropped", CHINESE)
def test_rules_on_chinese(run_stages, file, params, dropped, ingest):
    r = run_stages(ingest("coig", file), {"id": "f", "op": "filter", "inputs": ["coig"], **params})
    assert r.reasons("f") == dropped


def test_chinese_boilerplate_is_named(run_stages, ingest):
    r = run_stages(ingest("coig", "coig_ruozhiba.jsonl"),
                   {"id": "f", "op": "filter", "inputs": ["coig"], "boilerplate": True})
    assert r.rejected("f")[0]["detail"] == "answer has AI boilerplate: '作为一个虚拟AI'"


def test_pii_redaction_on_alpaca(run_stages, ingest):
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "f", "op": "filter", "inputs": ["alpaca"], "pii": "redact", "urls": "redact"})
    stats = r.stats("f")
    assert (stats["records_out"], stats["records_redacted"]) == (283, 22)
    assert (stats["redacted_email"], stats["redacted_phone"], stats["redacted_ip"], stats["redacted_url"]) == \
        (18, 7, 2, 15)
    redacted = [x for x in r.records("f") if "redacted" in x["meta"]]
    assert len(redacted) == 22 and all(len(x["meta"]["parents"]) == 1 for x in redacted)
    text = json.dumps(r.records("f"))
    assert "@example.com" not in text and "(123) 456-7890" not in text and "192.168.1.2" not in text


def test_emails_in_any_case_phones_and_ips(run_stages, write_jsonl):
    write_jsonl("pii.jsonl", [
        {"instruction": "Write to Bob@EXAMPLE.COM about the outage.", "input": "",
         "output": "Dear Bob, the server 10.0.0.12 is down; call +1-202-555-0143 or 13812345678."},
        {"instruction": "List the multiples of 2.", "input": "", "output": "10 12 14 16 18"},
    ])
    r = run_stages({"id": "p", "op": "ingest", "source": "alpaca", "path": "pii.jsonl"},
                   {"id": "f", "op": "filter", "inputs": ["p"], "pii": "redact"})
    first = r.records("f")[0]["messages"]
    assert first[0]["content"] == "Write to [EMAIL] about the outage."
    assert first[1]["content"] == "Dear Bob, the server [IP] is down; call [PHONE] or [PHONE]."
    assert r.records("f")[1]["messages"][1]["content"] == "10 12 14 16 18"
    r = run_stages({"id": "p", "op": "ingest", "source": "alpaca", "path": "pii.jsonl"},
                   {"id": "f", "op": "filter", "inputs": ["p"], "pii": "reject", "pii_kinds": ["email"]}, out="rej")
    assert r.rejected("f")[0]["detail"] == "user turn holds email 'Bob@EXAMPLE.COM'"


def test_a_failing_redactor_rejects_the_record(run_stages, monkeypatch, ingest):
    # a tag that itself looks like an email: the second search finds it, so redaction fails
    monkeypatch.setitem(pii.TAGS, "email", "[redacted@mail.example.org]")
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "f", "op": "filter", "inputs": ["alpaca"], "pii": "redact"})
    assert r.reasons("f") == {"instruction_equals_output": 1, "pii_redaction_failed": 6}
    assert all("email still present after redaction" in x["detail"]
               for x in r.rejected("f") if x["reason"] == "pii_redaction_failed")

    def broken(text, kinds):
        raise MemoryError("redactor crashed")

    monkeypatch.setattr(pii, "redact", broken)
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "f", "op": "filter", "inputs": ["alpaca"], "pii": "redact"}, out="crash")
    assert r.reasons("f") == {"instruction_equals_output": 1, "pii_redaction_failed": 283}


def test_language_expectation(run_stages, ingest):
    stages = [ingest("coig", "coig_poem.jsonl", lang="zh-Hans"), ingest("alpaca", "alpaca_slice.json")]
    r = run_stages(*stages, {"id": "f", "op": "filter", "inputs": ["coig", "alpaca"], "lang": "zh",
                             "instruction_equals_output": False})
    assert r.reasons("f") == {"lang_unknown": 284}
    r = run_stages(*stages, {"id": "f", "op": "filter", "inputs": ["coig", "alpaca"], "lang": ["zh"],
                             "lang_missing": "keep", "instruction_equals_output": False}, out="keep")
    assert r.stats("f")["records_out"] == 304
    stages[1] = ingest("alpaca", "alpaca_slice.json", lang="en")
    r = run_stages(*stages, {"id": "f", "op": "filter", "inputs": ["coig", "alpaca"], "lang": "en",
                             "instruction_equals_output": False}, out="en")
    assert r.reasons("f") == {"wrong_lang": 20}


def test_invalid_extra_pattern_is_a_config_error(run_stages, ingest):
    with pytest.raises(ConfigError, match=r"stages\[1\]\.refusal_patterns.*invalid regex"):
        run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "f", "op": "filter", "inputs": ["alpaca"], "refusal_patterns": ["(unclosed"]})


def test_token_estimate_and_truncation_heuristics():
    assert estimate_tokens("The quick brown fox jumps.") == 7
    assert estimate_tokens("天下没有不散的筵席") == 9
    assert truncation("Calcium has the symbol Ca and atomic number of", {}) == "ends with the word 'of'"
    assert truncation("Sincerely,", {}) is None
    assert truncation("for i in range(3):", {}) is None
    assert truncation("```python\nprint(1)", {}) == "unclosed code block"
    assert truncation("A full answer.", {"finish_reason": "length"}) == "generation stopped at the length limit"
