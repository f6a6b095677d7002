"""decontaminate: real Alpaca records that share 13-grams with the WizardLM and Self-Instruct
test sets; a Chinese benchmark given as an ingested stage; text-file benchmarks."""

from __future__ import annotations

import shutil

import pytest

from pipeline.errors import ConfigError


@pytest.fixture
def bench_dir(tmp_path, fixtures):
    d = tmp_path / "benchmarks"
    d.mkdir()
    for name in ("WizardLM_testset.jsonl", "user_oriented_instructions.jsonl",
                 "task1319_country_by_barcode_prefix.json"):
        shutil.copy(fixtures / name, d / name)
    return d


def test_alpaca_against_benchmark_folder(run_stages, ingest, bench_dir):
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "d", "op": "decontaminate", "inputs": ["alpaca"], "benchmark": str(bench_dir)})
    stats = r.stats("d")
    assert (stats["records_out"], stats["rejected"]) == (281, 3)
    assert (stats["matched_WizardLM_testset"], stats["matched_user_oriented_instructions"]) == (1, 2)
    wiz = next(x for x in r.rejected("d") if x["benchmark"] == "WizardLM_testset")
    assert wiz["reason"] == "contaminated" and len(wiz["ngram"].split()) == 13
    assert wiz["detail"] == f"shares the 13-gram {wiz['ngram']!r} with benchmark WizardLM_testset"
    assert wiz["ngram"] == "for int i 0 i n i for int j 0 j n"  # normalised tokens, no punctuation


def test_shorter_ngrams_find_more(run_stages, ingest, fixtures):
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "d", "op": "decontaminate", "inputs": ["alpaca"], "ngram": 8,
                    "benchmark": str(fixtures / "WizardLM_testset.jsonl")})
    assert r.reasons("d") == {"contaminated": 2}


def test_chinese_benchmark_from_an_ingested_stage(run_stages, ingest, rows, write_jsonl):
    poems = rows("coig_poem.jsonl")[:3]
    leaked = [{"instruction": "背诵一首古诗。", "input": "", "output": p["output"][:20] + "……"} for p in poems]
    write_jsonl("leaked.jsonl", leaked)
    r = run_stages(ingest("poem", "coig_poem.jsonl"), ingest("ruozhiba", "coig_ruozhiba.jsonl"),
                   {"id": "leaked", "op": "ingest", "source": "alpaca", "path": "leaked.jsonl"},
                   {"id": "d", "op": "decontaminate", "inputs": ["ruozhiba", "leaked", "poem"],
                    "reference_inputs": ["poem"]})
    stats = r.stats("d")
    assert (stats["records_in"], stats["consumed"], stats["records_out"], stats["rejected"]) == (83, 20, 60, 3)
    assert {x["benchmark"] for x in r.rejected("d")} == {"poem"}


def test_text_file_benchmark(run_stages, ingest, rows, tmp_path):
    line = next(x["output"] for x in rows("alpaca_slice.json") if "\n" not in x["output"] and len(x["output"].split()) > 20)
    (tmp_path / "lines.txt").write_text("unrelated first line\n" + line + "\n", encoding="utf-8")
    r = run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "d", "op": "decontaminate", "inputs": ["alpaca"], "benchmark": "lines.txt"})
    assert r.reasons("d") == {"contaminated": 1} and r.rejected("d")[0]["benchmark"] == "lines"


def test_reference_inputs_must_leave_data(run_stages, ingest):
    with pytest.raises(ConfigError, match="reference_inputs"):
        run_stages(ingest("alpaca", "alpaca_slice.json"),
                   {"id": "d", "op": "decontaminate", "inputs": ["alpaca"], "reference_inputs": ["alpaca"]})
    with pytest.raises(ConfigError, match="benchmark"):
        run_stages(ingest("alpaca", "alpaca_slice.json"), {"id": "d", "op": "decontaminate", "inputs": ["alpaca"]})
