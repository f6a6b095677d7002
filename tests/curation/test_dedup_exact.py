"""dedup_exact on real Alpaca/AlpaGasus and COIG records: keep policies across inputs, NFKC."""

from __future__ import annotations



def test_keep_first_across_inputs_rejects_the_later_copies(run_stages, ingest):
    # AlpaGasus' random 9k is a sample of Alpaca: 50 of the 60 sliced records are in the Alpaca slice
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   ingest("alpagasus", "alpagasus_slice.json", label="alpagasus"),
                   {"id": "dedup", "op": "dedup_exact", "inputs": ["alpaca", "alpagasus"]})
    assert r.stats("dedup")["records_in"] == 284 + 60
    assert r.reasons("dedup") == {"duplicate": 50}
    rejected = r.rejected("dedup")
    assert {x["record"]["meta"]["source"] for x in rejected} == {"alpagasus"}
    assert all(x["duplicate_of"] == x["record"]["meta"]["duplicate_of"] for x in rejected)
    kept = r.records("dedup")
    assert len(kept) == 294 and len({k["id"] for k in kept}) == 294


def test_source_priority_keeps_the_preferred_source(run_stages, ingest):
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   ingest("alpagasus", "alpagasus_slice.json", label="alpagasus"),
                   {"id": "dedup", "op": "dedup_exact", "inputs": ["alpaca", "alpagasus"],
                    "keep": "source_priority", "priority": ["alpagasus", "alpaca"]})
    assert r.reasons("dedup") == {"duplicate": 50}
    assert {x["record"]["meta"]["source"] for x in r.rejected("dedup")} == {"alpaca"}
    assert sum(k["meta"]["source"] == "alpagasus" for k in r.records("dedup")) == 60


def test_keep_longest_on_instruction(run_stages, rows, write_jsonl, ingest):
    # the same 40 Alpaca instructions again, with answers cut to their first sentence
    src = rows("alpaca_slice.json")[:40]
    short = [dict(x, output=x["output"].split(". ")[0]) for x in src]
    write_jsonl("short.jsonl", short)
    longer_in_second = sum(len(s["output"]) < len(x["output"]) for s, x in zip(short, src))
    assert longer_in_second == 24
    r = run_stages({"id": "short", "op": "ingest", "source": "alpaca", "path": "short.jsonl", "label": "short"},
                   ingest("alpaca", "alpaca_slice.json"),
                   {"id": "dedup", "op": "dedup_exact", "inputs": ["short", "alpaca"], "field": "instruction",
                    "keep": "longest"})
    assert r.reasons("dedup") == {"duplicate": 40}
    # where the cut answer is really shorter the Alpaca one wins; ties keep the first (the short input)
    assert sum(x["record"]["meta"]["source"] == "short" for x in r.rejected("dedup")) == 24


def test_chinese_full_width_punctuation_is_normalised(run_stages, rows, write_jsonl, ingest):
    src = rows("coig_ruozhiba.jsonl")
    half = str.maketrans("，？！：；（）", ",?!:;()")  # full-width forms: NFKC folds them
    variants = [dict(x, instruction=x["instruction"].translate(half), output=x["output"].translate(half))
                for x in src]
    changed = sum(v != x for v, x in zip(variants, src))
    assert changed == 60
    write_jsonl("half.jsonl", variants)
    stages = [ingest("coig", "coig_ruozhiba.jsonl"),
              {"id": "half", "op": "ingest", "source": "alpaca", "path": "half.jsonl"}]
    r = run_stages(*stages, {"id": "dedup", "op": "dedup_exact", "inputs": ["coig", "half"]})
    assert r.reasons("dedup") == {"duplicate": 60}
    r = run_stages(*stages, {"id": "dedup", "op": "dedup_exact", "inputs": ["coig", "half"],
                             "normalize": False}, out="raw")
    assert r.reasons("dedup") == {}
