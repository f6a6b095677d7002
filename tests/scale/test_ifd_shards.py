"""Issue 11 item 1: ifd over shards (each worker scores with its own model, the kept share chosen
once) writes the same files as one process; skipped without the `ifd` extra (torch, transformers)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the ifd extra (torch, transformers) is not installed")
pytest.importorskip("transformers", reason="the ifd extra (torch, transformers) is not installed")

from tests.curation.test_ifd import tiny_model  # noqa: E402,F401  (the fixture: a tiny GPT-2 built here)
from tests.scale.test_more_shards import run_both, sharded, write  # noqa: E402


@pytest.mark.slow
def test_ifd_scores_per_shard_and_keeps_the_same_top_fraction(tmp_path, tiny_model):  # noqa: F811
    recipe = write(tmp_path, "", f"{{id: ifd, op: ifd, inputs: [in], model: {tiny_model}, max_length: 64, "
                                 "fraction: 0.3}", shard_size=25)
    recipe.write_text(recipe.read_text().replace("source: alpaca,", "source: alpaca, limit: 120,"))
    files = run_both(tmp_path, recipe, "ifd")
    assert files["1"] == files["2"]
    st = files["2"]["stats"]
    assert st["dropped_ifd_not_top"] > 5 and st["dropped_ifd_above_1"] > 5 and st["records_out"] > 5
    assert len(sharded(tmp_path, "ifd")["shards"]) == 5
