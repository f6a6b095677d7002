"""A lone surrogate escape (`"x\\ud800y"`, valid JSON) in any source becomes U+FFFD and is counted.

Every source format is read with a surrogate planted in its text fields; the stage must finish,
its files must be valid UTF-8 JSON, and `repaired_unicode` counts the repaired text values.
"""

import json
from pathlib import Path

import pytest

from tests.adapters.helpers import ingest, write
from tests.conftest import FIXTURES, SAMPLES

BAD = "\ud800"


def plant(value):
    """`value` with a lone surrogate inserted into every text longer than 12 characters (shorter
    ones are roles, labels and ids, which must stay intact)."""
    if isinstance(value, dict):
        return {k: plant(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plant(v) for v in value]
    if isinstance(value, str) and len(value) > 12 and not value.startswith(("<", "[", "#")):
        return value[:2] + BAD + value[2:]
    return value


def first_rows(path: Path, n: int = 3) -> list:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return json.loads(text)[:n]
    return [json.loads(line) for line in text.splitlines() if line.strip()][:n]


def as_jsonl(rows) -> str:
    # json.dumps escapes the surrogate as \ud800: valid JSON, not encodable as UTF-8
    return "".join(json.dumps(r) + "\n" for r in rows)


CASES = {
    "alpaca": (SAMPLES / "alpaca_sample.json", {}),
    "self_instruct_seeds": (SAMPLES / "self_instruct_seed_tasks.jsonl", {}),
    "dolly": (FIXTURES / "dolly" / "dolly15k_schema_sample.jsonl", {}),
    "sharegpt": (SAMPLES / "sharegpt_sample.json", {}),
    "coig": (FIXTURES / "coig" / "coig_cqia_poem.jsonl", {}),
    "flan": (FIXTURES / "flan" / "flan_collection_sample.jsonl", {}),
    "unnatural": (FIXTURES / "unnatural" / "core_data_sample.jsonl", {}),
    "oig": (FIXTURES / "oig" / "oig_sample.jsonl", {}),
    "promptsource": (FIXTURES / "promptsource" / "ag_news_rows.jsonl",
                     {"templates": str(FIXTURES / "promptsource" / "ag_news_templates.yaml")}),
}


def check_repaired(res) -> None:
    assert res.records, "the stage kept nothing"
    assert res.stats["repaired_unicode"] >= 1
    text = json.dumps(res.records, ensure_ascii=False)
    assert "\ufffd" in text and BAD not in text


@pytest.mark.parametrize("source", sorted(CASES))
@pytest.mark.parametrize("form", ["jsonl", "json"])
def test_row_sources_repair_a_lone_surrogate(tmp_path, source, form):
    path, params = CASES[source]
    rows = plant(first_rows(path))
    data = as_jsonl(rows) if form == "jsonl" else json.dumps(rows, indent=1)
    res = ingest(tmp_path, source, write(tmp_path, f"bad.{form}", data), **params)
    check_repaired(res)


def test_messages_file_with_a_lone_surrogate(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "x" + BAD + "y"},
                          {"role": "assistant", "content": "ok" + BAD}], "meta": {"note": "a" + BAD}}]
    res = ingest(tmp_path, "messages", write(tmp_path, "m.jsonl", as_jsonl(rows)))
    assert res.records[0]["messages"][0]["content"] == "x\ufffdy"
    assert res.records[0]["meta"]["note"] == "a\ufffd"
    assert res.stats["repaired_unicode"] == 3


def test_a_rejected_row_with_a_lone_surrogate_is_written(tmp_path):
    rows = [{"messages": [{"role": "robot", "content": "x" + BAD}]}]
    res = ingest(tmp_path, "messages", write(tmp_path, "m.jsonl", as_jsonl(rows)))
    assert res.rejected[0]["raw"][0]["content"] == "x\ufffd"
    assert res.stats["repaired_unicode"] == 1


def test_oasst_tree_with_a_lone_surrogate(tmp_path):
    rows = plant(first_rows(FIXTURES / "oasst" / "oasst1_en_validation_slice.jsonl", 10**6))
    for row in rows:  # ids link the tree: keep them intact
        for key in ("message_id", "parent_id", "message_tree_id", "role", "lang"):
            row[key] = row[key].replace(BAD, "") if isinstance(row.get(key), str) else row.get(key)
    res = ingest(tmp_path, "oasst", write(tmp_path, "o.jsonl", as_jsonl(rows)))
    check_repaired(res)


def test_sni_task_with_a_lone_surrogate(tmp_path):
    task = json.loads((SAMPLES / "sni_task1319_sample.json").read_text(encoding="utf-8"))
    task["Definition"] = [d[:3] + BAD + d[3:] for d in task["Definition"]]
    task["Instances"][0]["input"] += BAD
    res = ingest(tmp_path, "sni", write(tmp_path, "task1_x.json", json.dumps(task)))
    check_repaired(res)
