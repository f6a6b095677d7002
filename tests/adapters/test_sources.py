"""What every adapter shares: the catalog listing, refusing pickles and unsafe hub ids."""

import json
import pickle

import pytest

from pipeline.adapters import ADAPTERS, get_adapter
from pipeline.catalog import catalog
from pipeline.errors import InputError
from tests.adapters.helpers import ingest, write
from tests.conftest import cli

SOURCES = ("alpaca", "messages", "self_instruct_seeds", "sni", "flan", "promptsource", "unnatural", "oig",
           "dolly", "oasst", "sharegpt", "coig")


def test_every_source_has_an_adapter_and_a_catalog_entry():
    assert set(ADAPTERS) == set(SOURCES)
    cat = catalog()
    for name in SOURCES:
        adapter = get_adapter(name)
        assert adapter.NAME == name and callable(adapter.read) and adapter.DESCRIPTION
        entry = cat[name]
        assert entry.license and entry.formats and entry.description
        assert entry.sample is None or entry.sample_path().is_file()


def test_instructpipe_sources_lists_them_all():
    out = cli("sources", check=True).stdout
    listed = [line.split(":")[0] for line in out.splitlines() if line and not line.startswith(" ")]
    assert listed == list(SOURCES)


class Canary:
    """Unpickling this creates the file `path`: the side effect that must never happen."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("suffix", [".pkl", ".pickle", ".joblib", ".pt"])
def test_pickle_files_are_refused_without_loading(tmp_path, suffix):
    canary = tmp_path / "canary-effect"
    path = write(tmp_path, f"data{suffix}", pickle.dumps(Canary(str(canary))))
    for source in ("alpaca", "sni", "flan", "oig"):
        with pytest.raises(InputError, match="refusing to load a pickle-type file"):
            ingest(tmp_path, source, path)
    assert not canary.exists()


def test_unsafe_hub_ids_are_refused(tmp_path):
    with pytest.raises(InputError, match="refusing the 'pandas' dataset builder"):
        ingest(tmp_path, "alpaca", hub="pandas")
    with pytest.raises(InputError, match="is a local path; give it as `path`"):
        ingest(tmp_path, "alpaca", hub=str(tmp_path))


def test_parquet_csv_and_tsv_rows_read_like_jsonl(tmp_path):
    import pandas as pd

    rows = [{"instruction": "Name a fruit.", "context": "", "response": "Apple", "category": "open_qa"},
            {"instruction": "Summarise.", "context": "Dolly is a dataset.[3]", "response": "A dataset.",
             "category": "summarization"}]
    want = ingest(tmp_path, "dolly", write(tmp_path, "d.jsonl", "".join(json.dumps(r) + "\n" for r in rows)))
    pd.DataFrame(rows).to_parquet(tmp_path / "d.parquet")
    pd.DataFrame(rows).to_csv(tmp_path / "d.csv", index=False)
    pd.DataFrame(rows).to_csv(tmp_path / "d.tsv", index=False, sep="\t")
    for name in ("d.parquet", "d.csv", "d.tsv"):
        got = ingest(tmp_path, "dolly", tmp_path / name)
        assert [r["messages"] for r in got.records] == [r["messages"] for r in want.records], name
    assert want.records[1]["messages"][0]["content"] == "Summarise.\n\nDolly is a dataset."
