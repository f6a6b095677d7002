import json

import pytest

from pipeline.errors import InputError
from tests.adapters.helpers import ingest, write
from tests.conftest import FIXTURES

SNI = FIXTURES / "sni"
T1319 = SNI / "task1319_country_by_barcode_prefix.json"
T321 = SNI / "task321_stereoset_classification_religion.json"
DEFINITION_1319 = json.loads(T1319.read_text())["Definition"][0]


def test_task1319_gives_101_records_with_provenance(tmp_path):
    res = ingest(tmp_path, "sni", T1319)
    assert len(res.records) == 101 and res.rejected == []
    assert res.stats["records_in"] == 101 and res.stats["tasks_read"] == 1
    meta = res.records[0]["meta"]
    assert meta == {"source": "sni", "task": "task1319_country_by_barcode_prefix", "category": "Misc.",
                    "lang": "en", "license": "Public Domain",
                    "orig_id": "task1319-af762f906cb94594889d3135ceb6e93c", "stage": "main"}


def test_golden_tk_instruct_rendering(tmp_path):
    rec = ingest(tmp_path, "sni", T1319).records[0]
    assert rec["messages"] == [
        {"role": "user", "content": f"Definition: {DEFINITION_1319}\n\n"
                                    "Positive Example 1 -\nInput: Bulgaria\nOutput: 380\n\n"
                                    "Positive Example 2 -\nInput: Slovenia\nOutput: 383\n\n"
                                    "Now complete the following example -\nInput: United States drugs\nOutput:"},
        {"role": "assistant", "content": "030"}]
    assert rec["id"] == "11c9b3d8a8fc27e7"


def test_k_zero_and_all_outputs(tmp_path):
    res = ingest(tmp_path, "sni", T1319, k=0, all_outputs=True)
    first = res.records[0]["messages"][0]["content"]
    assert "Positive Example" not in first and first.startswith("Definition: ")
    outputs = json.loads(T1319.read_text())["Instances"]
    distinct = sum(len({o.strip() for o in inst["output"] if o.strip()}) for inst in outputs)
    assert len(res.records) == distinct == 198
    assert res.stats["generated"] == distinct - 101


def test_draft_schema_definition_as_text(tmp_path):
    res = ingest(tmp_path, "sni", T321)
    assert len(res.records) == 228 and res.rejected == []
    rec = res.records[0]
    assert rec["messages"][0]["content"].startswith("Definition: Given two sentences regarding the stereotypes")
    assert rec["meta"]["orig_id"] == "task321_stereoset_classification_religion-0"
    assert "lang" not in rec["meta"] and rec["meta"]["category"] == "Classification"


def test_folder_task_lists_languages_and_max_instances(tmp_path):
    assert len(ingest(tmp_path, "sni", SNI).records) == 101 + 228
    only = ingest(tmp_path, "sni", SNI, tasks=["task1319_country_by_barcode_prefix"])
    assert len(only.records) == 101 and only.stats["tasks_excluded"] == 1
    listed = ingest(tmp_path, "sni", SNI, tasks_file=str(SNI / "default_train_tasks.txt"))
    assert len(listed.records) == 329
    excluded = ingest(tmp_path, "sni", SNI, exclude_tasks_file=str(SNI / "default_train_tasks.txt"))
    assert excluded.records == [] and excluded.stats["tasks_excluded"] == 2
    english = ingest(tmp_path, "sni", SNI, input_language=["English"])
    assert len(english.records) == 101 and english.stats["tasks_skipped_input_language"] == 1
    capped = ingest(tmp_path, "sni", SNI, max_instances=10)
    assert len(capped.records) == 20 and capped.stats["skipped_max_instances"] == 91 + 218
    assert ingest(tmp_path, "sni", SNI, limit=5).stats["records_in"] == 5


def task(**over):
    base = {"Definition": ["Answer."], "Positive Examples": [{"input": "a", "output": "b"}],
            "Instances": [{"id": "t-1", "input": "x", "output": ["y"]}]}
    base.update(over)
    return json.dumps(base)


def test_malformed_task_files(tmp_path):
    full = task()
    with pytest.raises(InputError, match=r"task9_cut\.json:1:\d+: "):
        ingest(tmp_path, "sni", write(tmp_path, "task9_cut.json", full[:-20]))
    lenient = ingest(tmp_path, "sni", write(tmp_path, "task9_cut.json", full[:-20]), lenient=True)
    assert lenient.reasons() == {"bad_json": 1}
    with pytest.raises(InputError, match=r"task9_empty\.json: empty file"):
        ingest(tmp_path, "sni", write(tmp_path, "task9_empty.json", ""))
    with pytest.raises(InputError, match=r"task9_utf\.json:2: invalid UTF-8 byte 0xff"):
        ingest(tmp_path, "sni", write(tmp_path, "task9_utf.json", b'{"Definition":\n"\xff"}'))
    bom = ingest(tmp_path, "sni", write(tmp_path, "task9_bom.json", b"\xef\xbb\xbf" + full.encode()))
    assert len(bom.records) == 1


@pytest.mark.parametrize("over, reason", [
    ({"Definition": 5}, "bad_schema:Definition"),
    ({"Positive Examples": [{"input": "a"}]}, "bad_schema:Positive Examples[0].output"),
    ({"Instances": [{"id": "t-1", "input": ["x"], "output": ["y"]}]}, "bad_schema:Instances[0].input"),
    ({"Instances": [{"id": "t-1", "input": "x", "output": [None]}]}, "bad_schema:Instances[0].output[0]"),
    ({"Instances": [{"id": "t-1", "input": "x"}]}, "bad_schema:Instances[0].output"),
    ({"Instances": [{"id": "t-1", "input": "x", "output": ["", " "]}]}, "empty_output"),
    ({"Instances": "none"}, "bad_schema:Instances"),
])
def test_bad_fields_are_rejected_naming_the_field(tmp_path, over, reason):
    res = ingest(tmp_path, "sni", write(tmp_path, "task9_x.json", task(**over)))
    assert res.records == [] and res.reasons() == {reason: 1}
    assert "task9_x.json" in res.rejected[0]["where"]


def test_output_rule_single_text_or_number(tmp_path):
    res = ingest(tmp_path, "sni", write(tmp_path, "task9_n.json",
                                        task(Instances=[{"input": "x", "output": 7}])))
    assert res.records[0]["messages"][1]["content"] == "7"


def test_hub_form_rows(tmp_path):
    """HF `Muennighoff/natural-instructions` columns, converted row by row (no network here)."""
    from pipeline.adapters import sni
    from pipeline.adapters.base import Source
    from pipeline.ops.base import StageContext

    ctx = StageContext("main", "ingest", tmp_path, tmp_path)
    src = Source(None, "Muennighoff/natural-instructions", "train", None, False, ctx, "sni")
    row = {"task_name": "task1319_country_by_barcode_prefix", "id": "task1319-x", "definition": "Give the prefix.",
           "inputs": "Bulgaria", "targets": "380"}
    rec = sni.from_hub_row(row, "hub:row0", sni.Params(), src)
    assert rec.messages == [{"role": "user", "content": "Definition: Give the prefix.\n\nNow complete the "
                                                        "following example -\nInput: Bulgaria\nOutput:"},
                            {"role": "assistant", "content": "380"}]
    assert rec.meta == {"source": "sni", "task": "task1319_country_by_barcode_prefix", "orig_id": "task1319-x"}
    bad = sni.from_hub_row({**row, "targets": None}, "hub:row1", sni.Params(), src)
    assert bad.reason == "bad_schema:targets"
    select = sni.hub_selector(sni.Params(max_instances=1), None, {"task2"})
    assert [select(r) for r in (row, row, {**row, "task_name": "task2"})] == [None, "max_instances", "task_list"]
