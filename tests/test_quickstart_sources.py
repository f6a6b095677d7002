"""The quickstart draws on at least five public sources and its dedup stage finds real duplicates."""

import json

from tests.conftest import QUICKSTART, cli


def test_quickstart_mixes_five_sources_and_dedups(tmp_path):
    out = tmp_path / "qs"
    cli("run", str(QUICKSTART), "--out", str(out), check=True)
    kept = [json.loads(x) for x in (out / "filter" / "data.jsonl").read_text().splitlines()]
    sources = {r["meta"]["source"] for r in kept}
    assert sources == {"stanford_alpaca", "alpagasus_random_9k", "self_instruct_seeds", "databricks_dolly_15k",
                       "super_natural_instructions", "oasst1", "fastchat_sharegpt"}
    dedup = json.loads((out / "dedup" / "stats.json").read_text())
    assert dedup["dropped_duplicate"] == 30
    oasst = json.loads((out / "oasst" / "stats.json").read_text())
    assert (oasst["records_in"], oasst["records_out"]) == (41, 6)
