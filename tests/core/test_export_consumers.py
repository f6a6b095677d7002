"""What an export folder holds, and that each `dataset_info.json` entry reads in LLaMA-Factory's way."""

import json

import pytest

from pipeline.errors import ConfigError
from pipeline.export.write import write_export
from pipeline.record import Record
from tests.conftest import cli
from tests.core.llamafactory_ref import load_entry
from tests.core.test_export import recs


def many(n=40):
    return [Record.new([{"role": "system", "content": "Be brief."}] * (i % 2)
                       + [{"role": "user", "content": f"question {i}"},
                          {"role": "assistant", "content": f"answer {i}"}],
                       {"source": "s", "stage": "x"}) for i in range(n)]


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


def described(folder):
    """Files named by the card's `configs` and by dataset_info.json, plus the two files themselves."""
    card = (folder / "README.md").read_text()
    named = {"README.md"} | {line.split("path: ")[1] for line in card.splitlines() if "    path: " in line}
    if (folder / "dataset_info.json").exists():
        info = json.loads((folder / "dataset_info.json").read_text())
        named |= {"dataset_info.json"} | {e["file_name"] for e in info.values()}
    return sorted(named)


def test_reexport_with_other_settings_leaves_no_stale_file(tmp_path):
    out = tmp_path / "exp"
    write_export(many, out, "messages", name="d", validation=0.25)
    assert {"train.jsonl", "validation.jsonl"} <= set(listing(out))
    write_export(many, out, "messages", name="d", validation=None)
    assert "validation.jsonl" not in listing(out)
    assert listing(out) == described(out) == ["README.md", "dataset_info.json", "train.jsonl"]
    write_export(many, out, "parquet", name="d", validation=5)
    assert listing(out) == described(out) == ["README.md", "dataset_info.json", "train.parquet",
                                              "validation.parquet"]
    write_export(many, out, "hf", name="d")
    assert listing(out) == ["README.md", "hf"]
    assert not [p for p in tmp_path.iterdir() if p.name != "exp"]  # no temporary folder left beside it


def test_export_never_deletes_files_it_did_not_write(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="notes.txt"):
        write_export(many, out, "messages", name="d")
    assert listing(out) == ["notes.txt"]
    (out / "notes.txt").rename(out / "notes.tmp")
    with pytest.raises(ConfigError, match="notes.tmp"):
        write_export(many, out, "messages", name="d")
    (out / "notes.tmp").unlink()
    (out / ".train.messages.jsonl.tmp").write_text("torn")  # left by an interrupted export: ours
    write_export(many, out, "messages", name="d")
    assert listing(out) == ["README.md", "dataset_info.json", "train.jsonl"]


def test_recipe_export_path_resolves_against_the_recipe_folder(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "chats.jsonl").write_text("".join(r.to_json() + "\n" for r in recs()))
    (folder / "r.yaml").write_text(
        "name: rel\nstages:\n  - {id: chats, op: ingest, source: messages, path: chats.jsonl}\n"
        "  - {id: export, op: export, inputs: [chats], path: ds}\n")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    cli("run", str(folder / "r.yaml"), "--out", str(tmp_path / "run"), cwd=elsewhere, check=True)
    assert (folder / "ds" / "train.jsonl").exists()
    assert not (elsewhere / "ds").exists()


@pytest.mark.parametrize("fmt", ["messages", "alpaca", "sharegpt", "parquet"])
def test_every_dataset_info_entry_reads_in_llamafactory(tmp_path, fmt):
    originals = many()
    summary = write_export(lambda: originals, tmp_path / "e", fmt, name="d", validation=0.25, seed=1)
    info = json.loads((tmp_path / "e" / "dataset_info.json").read_text())
    assert sorted(info) == ["d", "d_validation"]
    by_user = {r.messages[-2]["content"]: r for r in originals}
    seen = []
    for entry, split in (("d", "train"), ("d_validation", "validation")):
        rows = load_entry(tmp_path / "e", info, entry, tmp_path / "cache")
        assert len(rows) == summary.splits[split]
        for row in rows:
            rec = by_user[row["prompt"][-1]["content"]]
            assert row["response"] == [rec.messages[-1]]
            assert row["system"] == (rec.system or "")
            seen.append(rec.id)
    assert sorted(seen) == sorted(r.id for r in originals)


def test_hf_export_has_no_entry_llamafactory_cannot_read(tmp_path):
    write_export(many, tmp_path / "h", "hf", name="d", validation=4)
    assert not (tmp_path / "h" / "dataset_info.json").exists()
    card = (tmp_path / "h" / "README.md").read_text()
    assert "dataset_info.json" not in card and "load_from_disk" in card


def test_train_and_validation_are_disjoint_even_with_repeated_records(tmp_path):
    base = many(30)
    originals = base + base[:10]  # ten records twice: each copy must land in the same split
    summary = write_export(lambda: originals, tmp_path / "e", "messages", name="d", validation=0.3, seed=7)
    split_ids = {}
    for split in ("train", "validation"):
        lines = (tmp_path / "e" / f"{split}.jsonl").read_text().splitlines()
        split_ids[split] = [json.loads(x)["id"] for x in lines]
    assert not set(split_ids["train"]) & set(split_ids["validation"])
    assert sorted(split_ids["train"] + split_ids["validation"]) == sorted(r.id for r in originals)
    assert summary.splits["validation"] == len(split_ids["validation"]) > 0


def test_dpo_export_has_a_llamafactory_preference_entry(tmp_path):
    pairs = [Record.new(([{"role": "system", "content": "Be kind."}] if i % 2 else [])
                        + [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"good {i}"}],
                        {"stage": "pairs", "rejected": {"id": "r", "content": f"bad {i}"}}) for i in range(12)]
    write_export(lambda: pairs, tmp_path / "p", "dpo", name="prefs", validation=3)
    folder = tmp_path / "p"
    info = json.loads((folder / "dataset_info.json").read_text())
    assert info["prefs"]["ranking"] is True and info["prefs_validation"]["ranking"] is True
    assert listing(folder) == described(folder)
    rows = load_entry(folder, info, "prefs", tmp_path / "c") + load_entry(folder, info, "prefs_validation",
                                                                           tmp_path / "c")
    assert len(rows) == 12
    for row in rows:
        i = int(row["prompt"][-1]["content"][1:])
        assert row["response"] == [{"role": "assistant", "content": f"good {i}"},
                                   {"role": "assistant", "content": f"bad {i}"}]
        assert row["system"] == ("Be kind." if i % 2 else "")
    trl = [json.loads(x) for x in (folder / "train.jsonl").read_text().splitlines()]
    assert set(trl[0]) == {"prompt", "chosen", "rejected"}  # TRL's file keeps its own shape
