import json

from tests.adapters.helpers import check_malformed_jsonl, ingest, jsonl, write
from tests.conftest import FIXTURES

COIG = FIXTURES / "coig"


def test_cqia_slices(tmp_path):
    res = ingest(tmp_path, "coig", COIG)
    assert len(res.records) == 36 and res.rejected == []
    assert {r["meta"]["category"] for r in res.records} == {"试题", "问答", "文本生成"}


def test_golden_chinese_row(tmp_path):
    raw = json.loads((COIG / "coig_cqia_poem.jsonl").read_text(encoding="utf-8").splitlines()[0])
    rec = ingest(tmp_path, "coig", COIG / "coig_cqia_poem.jsonl").records[0]
    assert rec["messages"] == [{"role": "user", "content": "春树扶疏夜色轻\n模仿边贡，续写古诗："},
                               {"role": "assistant", "content": raw["output"]}]
    assert rec["meta"] == {"source": "coig", "lang": "zh", "task_type": {"major": ["文本生成"], "minor": ["古诗续写"]},
                           "category": "文本生成", "domain": ["中国传统文化", "古诗词"], "answer_from": "human",
                           "human_verified": True, "license": "unknown", "stage": "main"}


def test_malformed(tmp_path):
    good = {"instruction": "你好", "input": "", "output": "你好！", "task_type": {"major": ["问答"], "minor": []},
            "domain": ["通用"]}
    check_malformed_jsonl(tmp_path, "coig", good, "instruction", {"zh": "x"})
    res = ingest(tmp_path, "coig", write(tmp_path, "c.jsonl", jsonl(
        {**good, "task_type": {"major": [1]}}, {**good, "domain": 5}, {**good, "task_type": "问答"})))
    assert res.reasons() == {"bad_schema:task_type.major[0]": 1, "bad_schema:domain": 1}
    assert res.records[0]["meta"]["category"] == "问答"
