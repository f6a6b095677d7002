import json

import pytest

from pipeline.errors import ConfigError, InputError
from tests.adapters.helpers import ingest, jsonl, write
from tests.conftest import FIXTURES

PS = FIXTURES / "promptsource"
ROWS, TEMPLATES = PS / "ag_news_rows.jsonl", str(PS / "ag_news_templates.yaml")
T0 = FIXTURES / "flan" / "t0_templated_ag_news_classify.jsonl"


def test_every_template_on_every_row(tmp_path):
    res = ingest(tmp_path, "promptsource", ROWS, templates=TEMPLATES)
    assert len(res.records) == 20 * 7 and res.stats["generated"] == 20 * 6
    assert {r["meta"]["template"] for r in res.records} == {
        "classify_question_first", "classify_with_choices_question_first", "recommend",
        "which_section_choices", "which_section", "classify_with_choices", "classify"}


def test_golden_classify_matches_the_t0_prompt(tmp_path):
    """The `classify` template on a reconstructed row gives back the real T0-templated prompt."""
    res = ingest(tmp_path, "promptsource", ROWS, templates=TEMPLATES, template_names=["classify"])
    t0 = [json.loads(x) for x in T0.read_text().splitlines()[:20]]
    assert [r["messages"][0]["content"] for r in res.records] == [x["prompt"].strip() for x in t0]
    assert [r["messages"][1]["content"] for r in res.records] == \
        [x["completion"].removesuffix("<|endoftext|>") for x in t0]
    assert res.records[0]["meta"] == {"source": "promptsource", "template": "classify",
                                      "template_id": "cb355f33-7e8c-4455-a72b-48d315bd4f60",
                                      "task": "ag_news", "license": "unknown", "stage": "main"}


def test_n_templates_per_row_is_seeded(tmp_path):
    a = ingest(tmp_path, "promptsource", ROWS, templates=TEMPLATES, templates_per_row=2, template_seed=5)
    b = ingest(tmp_path, "promptsource", ROWS, templates=TEMPLATES, templates_per_row=2, template_seed=5)
    assert len(a.records) == 40 and a.records == b.records
    assert len({r["meta"]["template"] for r in a.records}) > 2


def tpl(jinja, choices="no ||| yes", name="t"):
    return ("dataset: toy\ntemplates:\n  id1: !Template\n    id: id1\n    name: " + name +
            "\n    answer_choices: " + json.dumps(choices) + "\n    jinja: " + json.dumps(jinja) + "\n")


def test_data_is_not_rendered_twice_and_pipes_are_protected(tmp_path):
    t = write(tmp_path, "t.yaml", tpl("Q: {{q}} ||| {{answer_choices[label]}}"))
    rows = write(tmp_path, "r.jsonl", jsonl({"q": "{{ 7*7 }} {0.__class__} a ||| b", "label": 1}))
    rec = ingest(tmp_path, "promptsource", rows, templates=str(t)).records[0]
    assert rec["messages"] == [{"role": "user", "content": "Q: {{ 7*7 }} {0.__class__} a ||| b"},
                               {"role": "assistant", "content": "yes"}]


def test_failing_template_rejects_the_row_naming_template_and_error(tmp_path):
    t = write(tmp_path, "t.yaml", tpl("{{q}} ||| {{answer_choices[label]}}", name="boom"))
    rows = write(tmp_path, "r.jsonl", jsonl({"q": "fine", "label": 0}, {"q": "x", "label": 9}, {"label": 1}))
    res = ingest(tmp_path, "promptsource", rows, templates=str(t))
    assert len(res.records) == 1 and res.reasons() == {"template_error": 2}
    assert all(r["template"] == "boom" and "boom" in r["detail"] for r in res.rejected)
    assert "UndefinedError" in res.rejected[1]["detail"] and res.rejected[1]["where"].endswith("r.jsonl:3")


def test_sandbox_blocks_attribute_escapes(tmp_path):
    t = write(tmp_path, "t.yaml", tpl("{{ q.__class__.__mro__ }} ||| x"))
    res = ingest(tmp_path, "promptsource", write(tmp_path, "r.jsonl", jsonl({"q": "a"})), templates=str(t))
    assert res.records == [] and res.reasons() == {"template_error": 1}


def test_templates_without_target_are_skipped(tmp_path):
    text = tpl("{{q}} ||| {{answer_choices[label]}}") + (
        "  id2: !Template\n    id: id2\n    name: prompt_only\n    answer_choices: null\n    jinja: '{{q}}'\n")
    res = ingest(tmp_path, "promptsource", write(tmp_path, "r.jsonl", jsonl({"q": "a", "label": 0})),
                 templates=str(write(tmp_path, "t.yaml", text)))
    assert len(res.records) == 1 and res.stats["templates_without_target"] == 1
    cond = write(tmp_path, "c.yaml", tpl("{{q}} {% if label %}||| yes{% endif %}"))
    res = ingest(tmp_path, "promptsource", write(tmp_path, "r2.jsonl", jsonl({"q": "a", "label": 0})),
                 templates=str(cond))
    assert res.reasons() == {"no_target": 1}


def test_bad_templates_file(tmp_path):
    rows = write(tmp_path, "r.jsonl", jsonl({"q": "a"}))
    with pytest.raises(InputError, match=r"t\.yaml:3:\d+: not valid YAML"):
        ingest(tmp_path, "promptsource", rows, templates=str(write(tmp_path, "t.yaml", "templates:\n  a: [\n  b: :")))
    with pytest.raises(InputError, match=r"templates: expected a mapping"):
        ingest(tmp_path, "promptsource", rows, templates=str(write(tmp_path, "t2.yaml", "dataset: x\n")))
    with pytest.raises(ConfigError, match=r"template_names \['nope'\]"):
        ingest(tmp_path, "promptsource", rows, templates=TEMPLATES, template_names=["nope"])


def test_malformed_rows(tmp_path):
    t = str(write(tmp_path, "t.yaml", tpl("{{q}} ||| {{answer_choices[label]}}")))
    ok = jsonl({"q": "a", "label": 0})
    with pytest.raises(InputError, match=r"rows\.jsonl:2:\d+"):
        ingest(tmp_path, "promptsource", write(tmp_path, "rows.jsonl", ok + ok[:9] + "\n"), templates=t)
    res = ingest(tmp_path, "promptsource", write(tmp_path, "rows2.jsonl", ok + "[1, 2]\n"), templates=t)
    assert res.reasons() == {"bad_schema:row": 1}
    res = ingest(tmp_path, "promptsource", write(tmp_path, "rows3.jsonl", jsonl({"q": "a", "label": "0"})),
                 templates=t)
    assert res.reasons() == {"template_error": 1}
    bom = ingest(tmp_path, "promptsource", write(tmp_path, "rows4.jsonl", b"\xef\xbb\xbf" + ok.encode()), templates=t)
    assert len(bom.records) == 1
    assert ingest(tmp_path, "promptsource", write(tmp_path, "e.jsonl", ""), templates=t).stats["empty_files"] == 1
    with pytest.raises(InputError, match=r"u\.jsonl:1:\d+: invalid UTF-8"):
        ingest(tmp_path, "promptsource", write(tmp_path, "u.jsonl", b'{"q": "\xff"}\n'), templates=t)
