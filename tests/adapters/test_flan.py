import json

import pytest

from pipeline.errors import ConfigError, InputError
from tests.adapters.helpers import check_malformed_jsonl, ingest, jsonl, write
from tests.conftest import FIXTURES

FLAN = FIXTURES / "flan"
COLLECTION = FLAN / "flan_collection_sample.jsonl"


def test_cot_tsv_slices_give_one_record_per_row(tmp_path):
    qasc = ingest(tmp_path, "flan", FLAN / "cot_qasc_train.tsv")
    assert len(qasc.records) == 40 and qasc.stats["records_in"] == 40
    cot = ingest(tmp_path, "flan", FLAN, task_sources=["cot"])
    assert len(cot.records) == 40 + 30 + 2 and cot.stats["skipped_task_source"] == 25 + 15 + 10


def test_golden_cot_row(tmp_path):
    rec = ingest(tmp_path, "flan", FLAN / "cot_qasc_train.tsv").records[0]
    assert rec["messages"] == [
        {"role": "user", "content": "What is the process by which living things give rise to offspring?\nOptions:\n"
                                    "- (A) DNA\n- (B) photosynthesis\n- (C) bird\n- (D) sex\n- (E) subtraction\n"
                                    "- (F) gametes\n- (G) eggs\n- (H) ovum\nLet's think step by step."},
        {"role": "assistant", "content": "Reproduction is the process by which living things give rise to offspring. "
                                         "Sex equals reproduction. Sex is the process by which living things give rise "
                                         "to offspring. So the answer is (D)."}]
    assert rec["meta"] == {"source": "flan", "task_source": "cot", "template_type": "cot", "task": "cot_qasc",
                           "license": "Apache-2.0", "stage": "main"}


def test_golden_t0_prompt_completion(tmp_path):
    res = ingest(tmp_path, "flan", FLAN / "t0_templated_ag_news_classify.jsonl")
    assert len(res.records) == 25
    assert res.records[0]["messages"] == [
        {"role": "user", "content": "Wall St. Bears Claw Back Into the Black (Reuters) Reuters - Short-sellers, "
                                    "Wall Street's dwindling\\band of ultra-cynics, are seeing green again. \n"
                                    "What label best describes this news article?"},
        {"role": "assistant", "content": "Business"}]
    assert res.records[0]["meta"]["task"] == "t0_templated_ag_news_classify"


def test_golden_collection_row_and_passthrough_names(tmp_path):
    res = ingest(tmp_path, "flan", COLLECTION)
    assert len(res.records) == 12 and res.rejected == []
    first = json.loads(COLLECTION.read_text().splitlines()[0])
    assert res.records[0]["messages"] == [{"role": "user", "content": first["inputs"].strip()},
                                          {"role": "assistant", "content": first["targets"]}]
    assert res.records[0]["meta"]["task"] == "ag_news_classify"
    last = res.records[-1]["meta"]
    assert (last["task_source"], last["template_type"], last["task"]) == ("t0", "zs_noopt", "ag_news_classify")


def test_template_type_and_task_source_filters(tmp_path):
    zs = ingest(tmp_path, "flan", COLLECTION, template_types=["zs_opt"])
    assert len(zs.records) == 4 and zs.stats["skipped_template_type"] == 8
    assert {r["meta"]["template_type"] for r in zs.records} == {"zs_opt"}
    t0 = ingest(tmp_path, "flan", COLLECTION, task_sources=["T0"])
    assert len(t0.records) == 4 and t0.stats["skipped_task_source"] == 8


def test_submix_weights_share_the_limit(tmp_path):
    res = ingest(tmp_path, "flan", COLLECTION, submix_weights={"t0": 2, "cot": 1, "niv2": 1}, limit=4)
    sources = [r["meta"]["task_source"] for r in res.records]
    assert sorted(sources) == ["cot", "niv2", "t0", "t0"]
    assert res.stats["submix_t0"] == 2 and res.stats["skipped_submix_quota"] == 4
    assert res.stats["skipped_task_source"] == 4
    seeded = ingest(tmp_path, "flan", COLLECTION, submix_weights={"t0": 1}, limit=2, seed=3)
    assert len(seeded.records) == 2
    assert seeded.records == ingest(tmp_path, "flan", COLLECTION, submix_weights={"t0": 1}, limit=2, seed=3).records
    with pytest.raises(ConfigError, match="submix_weights need `limit`"):
        ingest(tmp_path, "flan", COLLECTION, submix_weights={"t0": 1})


def test_malformed_collection_jsonl(tmp_path):
    good = {"inputs": "Q?", "targets": "A", "task_source": "flan", "task_name": "x", "template_type": "zs_opt"}
    check_malformed_jsonl(tmp_path, "flan", good, "targets", ["A"])
    rows = jsonl({**good, "targets": " "}, {**good, "task_name": 3})
    res = ingest(tmp_path, "flan", write(tmp_path, "e.jsonl", rows))
    assert res.reasons() == {"empty_output": 1, "bad_schema:task_name": 1}


def test_malformed_cot_tsv(tmp_path):
    bad = write(tmp_path, "x_train.tsv", "Q1\tyes\tBecause.\nQ2\tno\nQ3\tyes\t\n")
    res = ingest(tmp_path, "flan", bad)
    assert len(res.records) == 1
    assert res.reasons() == {"bad_schema:columns": 1, "bad_schema:rationale": 1}
    assert res.rejected[0]["where"].endswith("x_train.tsv:2")
    bom = ingest(tmp_path, "flan", write(tmp_path, "b_train.tsv", b"\xef\xbb\xbfQ1\tyes\tBecause.\n"))
    assert bom.records[0]["messages"][0]["content"].startswith("Q1\n")
    utf = write(tmp_path, "u_train.tsv", b"Q1\tyes\tB.\nQ\xff\tno\tC.\n")
    with pytest.raises(InputError, match=r"u_train\.tsv:2:2: invalid UTF-8 byte 0xff at byte offset 11"):
        ingest(tmp_path, "flan", utf)
    assert ingest(tmp_path, "flan", utf, lenient=True).reasons() == {"bad_encoding": 1}
    assert ingest(tmp_path, "flan", write(tmp_path, "e_train.tsv", "")).stats["empty_files"] == 1
