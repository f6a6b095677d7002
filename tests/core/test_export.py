import json

import datasets
import pytest

from pipeline.export.write import write_export
from pipeline.record import Record, check_messages
from tests.conftest import QUICKSTART, cli


def recs():
    return [
        Record.new([{"role": "user", "content": "Say hi."}, {"role": "assistant", "content": "Hi!"}],
                   {"source": "a", "license": "Apache-2.0", "stage": "s"}),
        Record.new([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                    {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?"},
                    {"role": "assistant", "content": "6"}],
                   {"source": "b", "license": "CC-BY-NC-4.0", "stage": "s", "lang": "en"}),
        Record.new([{"role": "user", "content": "Template {{ x }} and {0.__class__}"},
                    {"role": "assistant", "content": "ünïcödé ✓"}], {"source": "a", "stage": "s"}),
    ]


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("qs") / "run"
    cli("run", str(QUICKSTART), "--out", str(out), check=True)
    return out


def test_messages_export_loads_with_datasets_and_validates(quickstart_run, tmp_path):
    train = quickstart_run / "export" / "dataset" / "train.jsonl"
    ds = datasets.load_dataset("json", data_files=str(train), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert len(ds) > 300
    for row in ds:
        assert check_messages(row["messages"], complete=True) == []
    info = json.loads((quickstart_run / "export" / "dataset" / "dataset_info.json").read_text())
    assert info["quickstart"]["formatting"] == "sharegpt"
    assert info["quickstart"]["tags"]["role_tag"] == "role"


@pytest.mark.parametrize("fmt,source", [("alpaca", "alpaca"), ("messages", "messages"),
                                        ("sharegpt", "sharegpt")])
def test_exports_round_trip_through_ingest(tmp_path, fmt, source):
    originals = recs()
    summary = write_export(lambda: originals, tmp_path / "exp", fmt, name="rt")
    assert summary.splits == {"train": 3}
    back = tmp_path / "back.jsonl"
    cli("ingest", source, str(tmp_path / "exp" / "train.jsonl"), "-o", str(back), check=True)
    got = [json.loads(line) for line in back.read_text().splitlines()]
    assert [g["messages"] for g in got] == [r.messages for r in originals]
    assert [g["id"] for g in got] == [r.id for r in originals]


def test_alpaca_shape_for_llama_factory(tmp_path):
    write_export(recs, tmp_path / "exp", "alpaca", name="rt")
    rows = [json.loads(line) for line in (tmp_path / "exp" / "train.jsonl").read_text().splitlines()]
    assert rows[1] == {"instruction": "And 3+3?", "input": "", "output": "6",
                       "history": [["2+2?", "4"]], "system": "Be brief."}
    assert rows[0]["system"] == ""
    info = json.loads((tmp_path / "exp" / "dataset_info.json").read_text())["rt"]
    assert info["columns"] == {"prompt": "instruction", "query": "input", "response": "output",
                               "history": "history", "system": "system"}


def test_sharegpt_shape(tmp_path):
    write_export(recs, tmp_path / "exp", "sharegpt", name="rt")
    row = json.loads((tmp_path / "exp" / "train.jsonl").read_text().splitlines()[1])
    assert [t["from"] for t in row["conversations"]] == ["system", "human", "gpt", "human", "gpt"]


def test_hf_and_parquet_exports_load(tmp_path):
    many = recs() * 1
    write_export(lambda: many, tmp_path / "hf", "hf", name="x", validation=1)
    dd = datasets.load_from_disk(str(tmp_path / "hf" / "hf"))
    assert dd["train"].num_rows == 2 and dd["validation"].num_rows == 1
    write_export(lambda: many, tmp_path / "pq", "parquet", name="x")
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "pq" / "train.parquet"), split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert ds[2]["messages"][1]["content"] == "ünïcödé ✓"


def test_split_is_exact_and_seeded(tmp_path):
    many = [Record.new([{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}])
            for i in range(200)]
    s1 = write_export(lambda: many, tmp_path / "a", "messages", name="x", validation=0.1, seed=3)
    s2 = write_export(lambda: many, tmp_path / "b", "messages", name="x", validation=0.1, seed=3)
    assert s1.splits == {"train": 180, "validation": 20}
    assert (tmp_path / "a" / "validation.jsonl").read_bytes() == (tmp_path / "b" / "validation.jsonl").read_bytes()


def test_card_lists_sources_licenses_and_funnel(quickstart_run):
    card = (quickstart_run / "export" / "dataset" / "README.md").read_text()
    for text in ("| alpaca |", "CC-BY-NC-4.0", "Apache-2.0", "| dedup | dedup_exact |", "duplicate 30",
                 "License note", "configs:"):
        assert text in card


def test_export_cli_from_run_folder_and_incomplete_records_skipped(quickstart_run, tmp_path):
    proc = cli("export", str(quickstart_run), "--format", "sharegpt", "-o", str(tmp_path / "sg"), check=True)
    assert "wrote" in proc.stderr
    rows = (tmp_path / "sg" / "train.jsonl").read_text().splitlines()
    expected = json.loads((quickstart_run / "export" / "stats.json").read_text())["records_out"]
    assert len(rows) == expected
    open_rec = Record.new([{"role": "user", "content": "unanswered"}])
    src = tmp_path / "in.jsonl"
    src.write_text(open_rec.to_json() + "\n" + recs()[0].to_json() + "\n")
    proc = cli("export", str(src), "--format", "messages", "-o", str(tmp_path / "m"), check=True)
    assert "incomplete" in proc.stderr
    assert len((tmp_path / "m" / "train.jsonl").read_text().splitlines()) == 1


def test_export_cli_dpo_takes_the_recipe_path_rule(tmp_path):
    """`export --format dpo` keeps only records with a rejected answer, as the `export` op does."""
    from tests.core.test_cli import one_line_error

    pair = Record.new([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
                      {"source": "s", "stage": "pairs", "rejected": {"id": "r", "content": "5"}})
    plain = recs()[0]
    src = tmp_path / "in.jsonl"
    src.write_text(pair.to_json() + "\n" + plain.to_json() + "\n")
    proc = cli("export", str(src), "--format", "dpo", "-o", str(tmp_path / "d"), check=True)
    assert "no_rejected_answer 1" in proc.stderr
    rows = [json.loads(x) for x in (tmp_path / "d" / "train.jsonl").read_text().splitlines()]
    assert rows == [{"prompt": [{"role": "user", "content": "2+2?"}],
                     "chosen": [{"role": "assistant", "content": "4"}],
                     "rejected": [{"role": "assistant", "content": "5"}]}]
    only_plain = tmp_path / "plain.jsonl"
    only_plain.write_text(plain.to_json() + "\n")
    one_line_error(cli("export", str(only_plain), "--format", "dpo", "-o", str(tmp_path / "e")),
                   f"{only_plain}: no record to export", "no_rejected_answer 1")
    assert not (tmp_path / "e" / "train.jsonl").exists()
    assert "dpo" in cli("export", "--help").stdout
