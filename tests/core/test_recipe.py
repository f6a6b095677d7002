import textwrap

import pytest

from pipeline.errors import ConfigError
from pipeline.recipe import load_recipe
from tests.conftest import SAMPLES


def recipe(tmp_path, body: str):
    p = tmp_path / "r.yaml"
    p.write_text(textwrap.dedent(body))
    return p


BASE = f"""
name: t
stages:
  - id: a
    op: ingest
    source: alpaca
    path: {SAMPLES / "alpaca_sample.json"}
"""


def error_of(tmp_path, body: str) -> str:
    with pytest.raises(ConfigError) as e:
        load_recipe(recipe(tmp_path, body))
    return str(e.value)


def test_valid_recipe_orders_stages(tmp_path):
    r = load_recipe(recipe(tmp_path, BASE + """
  - id: c
    op: filter
    inputs: [b]
  - id: b
    op: dedup_exact
    inputs: [a]
"""))
    assert [s.id for s in r.stages] == ["a", "b", "c"]
    assert r.downstream("b") == {"b", "c"} and r.upstream("b") == {"a", "b"}


def test_unknown_key_suggests_the_right_one(tmp_path):
    msg = error_of(tmp_path, BASE + """
  - id: b
    op: dedup_exact
    inputs: [a]
  - id: c
    op: filter
    inputs: [b]
    min_wrods: 3
""")
    assert "stages[2].min_wrods: unknown key; did you mean min_words?" in msg


def test_bad_value_names_its_path(tmp_path):
    msg = error_of(tmp_path, BASE + """
  - id: b
    op: filter
    inputs: [a]
    max_words: lots
""")
    assert "stages[1].max_words:" in msg and "'lots'" in msg


def test_cycle_missing_input_and_unknown_op(tmp_path):
    msg = error_of(tmp_path, BASE + """
  - id: b
    op: filter
    inputs: [c]
  - id: c
    op: filter
    inputs: [b]
""")
    # the whole phrase: the test's tmp folder name holds "cycle" too; stages are visited in order
    assert "stages[1].inputs: cycle b -> c -> b" in msg
    msg = error_of(tmp_path, BASE + """
  - id: b
    op: filter
    inputs: [ab]
""")
    assert "stages[1].inputs[0]: no stage with id 'ab'" in msg
    msg = error_of(tmp_path, BASE + """
  - id: b
    op: filtr
    inputs: [a]
""")
    assert "stages[1].op: unknown op 'filtr'; did you mean filter?" in msg


def test_missing_file_and_duplicate_id(tmp_path):
    msg = error_of(tmp_path, """
name: t
stages:
  - id: a
    op: ingest
    source: alpaca
    path: nowhere.json
  - id: a
    op: filter
""")
    assert f"stages[0].path: file not found: {tmp_path / 'nowhere.json'}" in msg
    assert "duplicate id 'a'" in msg


def test_top_level_problems(tmp_path):
    assert "stages: required" in error_of(tmp_path, "name: t\n")
    assert "stagse: unknown key; did you mean stages?" in error_of(tmp_path, "name: t\nstagse: []\n")
    assert "name: required" in error_of(tmp_path, "stages: []\n")
    assert "invalid YAML" in error_of(tmp_path, "name: [t\n")
    assert "llm.concurency: unknown key; did you mean concurrency?" in error_of(
        tmp_path, BASE + "llm: {concurency: 3}\n")


def test_env_interpolation_and_masking(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMPLES_DIR", str(SAMPLES))
    monkeypatch.setenv("MY_API_KEY", "sk-canary-1234567890abcdef")
    r = load_recipe(recipe(tmp_path, """
name: t
stages:
  - id: a
    op: ingest
    source: alpaca
    path: ${SAMPLES_DIR}/alpaca_sample.json
    label: ${MY_API_KEY}
    lang: ${LANG_UNSET:-en}
"""))
    st = r.stages[0]
    assert st.params.path == str(SAMPLES / "alpaca_sample.json")
    assert st.params.lang == "en"
    assert "sk-canary" not in str(r.shown) and r.shown["stages"][0]["label"] == "***"
    msg = error_of(tmp_path, BASE.replace("source: alpaca", "source: ${NOT_SET_ANYWHERE}"))
    assert "stages[0].source: environment variable NOT_SET_ANYWHERE is not set" in msg


def test_ingest_adapter_params_are_validated(tmp_path):
    msg = error_of(tmp_path, BASE + "    input_separatr: x\n")
    assert "stages[0].input_separatr: unknown key; did you mean input_separator?" in msg
    assert "unknown source 'alpacca'; did you mean alpaca?" in error_of(
        tmp_path, BASE.replace("source: alpaca", "source: alpacca"))
