"""Offline language identification on real text (COIG Chinese, Alpaca English, our own sentences)
and the `langid` op in a recipe: meta.lang set, wrong languages rejected."""

import json
import textwrap

import pytest

from pipeline.chat.identify import identify
from pipeline.errors import ConfigError
from pipeline.jsonl import read_jsonl
from pipeline.recipe import load_recipe
from pipeline.rundir import RunDir
from pipeline.runner import Runner
from tests.conftest import FIXTURES

pytest.importorskip("py3langid")
HERE = FIXTURES / "chat"


def coig_texts():
    for name in ("coig_ruozhiba_20.jsonl", "coig_poem_10.jsonl"):
        for line in (HERE / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            yield "\n".join((row["instruction"], row["input"], row["output"]))


def test_coig_chinese_is_zh():
    langs = [identify(t).lang for t in coig_texts()]
    assert len(langs) == 30 and langs.count("zh") == 30


def test_short_chinese_question_is_zh_not_wu():
    # py3langid 0.4's extra labels (wuu, yue) would take these; the default candidates exclude them
    assert identify("鸡柳是鸡身上哪个部位啊？").lang == "zh"
    assert identify("智力问答：1+2等于").lang == "zh"


def test_alpaca_english_is_en():
    rows = json.loads((HERE / "alpaca_30.json").read_text(encoding="utf-8"))
    langs = [identify(f"{r['instruction']}\n{r['input']}\n{r['output']}").lang for r in rows]
    assert langs.count("en") == 30


def test_sentences_in_five_more_languages():
    rows = [json.loads(line) for line in (HERE / "written_by_us.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [identify(r["text"]).lang for r in rows] == [r["lang"] for r in rows]


def test_too_short_or_unclear_is_undetermined():
    assert identify("Hello").lang == "und"           # best guess is Breton at 8 %
    assert identify("`x = 1` https://a.org").lang == "und"   # nothing left but code and a link
    assert identify("你好").lang == "zh"


def test_code_and_links_do_not_decide_the_language():
    text = "请解释下面的代码：\n```python\nfor item in items:\n    print(item.name, item.value)\n```"
    assert identify(text).lang == "zh"


def write_inputs(tmp_path):
    rows = []
    for line in (HERE / "coig_ruozhiba_20.jsonl").read_text(encoding="utf-8").splitlines()[:6]:
        r = json.loads(line)
        rows.append({"instruction": r["instruction"], "input": r["input"], "output": r["output"]})
    rows += json.loads((HERE / "alpaca_30.json").read_text(encoding="utf-8"))[:4]
    for line in (HERE / "written_by_us.jsonl").read_text(encoding="utf-8").splitlines()[:2]:
        rows.append({"instruction": json.loads(line)["text"], "input": "", "output": "Ja, gerne."})
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


def run_recipe(tmp_path, stage: str):
    data = write_inputs(tmp_path)
    recipe = tmp_path / "langid.yaml"
    recipe.write_text(textwrap.dedent(f"""
        name: langid
        stages:
          - {{id: in, op: ingest, source: alpaca, path: {data}}}
          - {{id: lang, op: langid, inputs: [in], {stage}}}
    """))
    Runner(load_recipe(recipe), tmp_path / "out").run()
    rd = RunDir(tmp_path / "out")
    kept = [obj for _, obj in read_jsonl(rd.file("lang", "data.jsonl"))]
    rejected = [obj for _, obj in read_jsonl(rd.file("lang", "rejected.jsonl"))]
    return kept, rejected, rd.stats("lang")


def test_op_sets_meta_lang_and_rejects_unexpected_languages(tmp_path):
    kept, rejected, stats = run_recipe(tmp_path, "expect_lang: [zh, en]")
    assert [r["meta"]["lang"] for r in kept] == ["zh"] * 6 + ["en"] * 4
    assert all(r["meta"]["lang_prob"] > 0.9 for r in kept)
    assert [(r["reason"], r["record"]["meta"]["lang"]) for r in rejected] == [("wrong_language", "de")] * 2
    assert rejected[0]["detail"].startswith("text: detected de (")
    assert (stats["records_in"], stats["records_out"], stats["rejected"]) == (12, 10, 2)
    assert (stats["lang_zh"], stats["lang_en"], stats["lang_de"]) == (6, 4, 2)
    assert stats["dropped_wrong_language"] == 2


def test_op_checks_the_declared_language(tmp_path):
    data = write_inputs(tmp_path)
    recipe = tmp_path / "declared.yaml"
    recipe.write_text(textwrap.dedent(f"""
        name: declared
        stages:
          - {{id: in, op: ingest, source: alpaca, path: {data}, lang: zh-CN}}
          - {{id: lang, op: langid, inputs: [in], match_declared: true, field: instruction}}
    """))
    Runner(load_recipe(recipe), tmp_path / "out").run()
    rd = RunDir(tmp_path / "out")
    kept = [obj for _, obj in read_jsonl(rd.file("lang", "data.jsonl"))]
    rejected = [obj for _, obj in read_jsonl(rd.file("lang", "rejected.jsonl"))]
    assert [r["meta"]["lang"] for r in kept] == ["zh-CN"] * 6     # the more specific declared code stays
    assert len(rejected) == 6
    assert {r["detail"].split(" (")[0] for r in rejected} == {"text: detected en", "text: detected de"}
    assert all(r["detail"].endswith("declared zh-CN") for r in rejected)


def test_unknown_language_code_is_a_config_error(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("name: bad\nstages:\n  - {id: in, op: ingest, source: alpaca, path: x.json}\n"
                      "  - {id: lang, op: langid, inputs: [in], expect_lang: [zz]}\n")
    (tmp_path / "x.json").write_text("[]")
    with pytest.raises(ConfigError, match=r"stages\[1\]\.expect_lang: .*unknown to py3langid: \['zz'\]"):
        load_recipe(recipe)
