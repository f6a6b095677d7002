"""The bundled curation recipe runs offline, shows its funnel in the card, and a re-run is a no-op."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import cli

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "curation.yaml"


def test_curation_recipe_runs_and_resumes(tmp_path):
    out = tmp_path / "run"
    cli("run", str(RECIPE), "--out", str(out), check=True)
    funnel = {s: json.loads((out / s / "stats.json").read_text()) for s in
              ("exact", "near", "filter", "decontaminate", "select", "export")}
    assert [(funnel[s]["records_in"], funnel[s]["records_out"]) for s in funnel] == [
        (350, 320), (320, 320), (320, 314), (314, 314), (314, 200), (200, 200)]
    assert funnel["select"]["dropped_over_quota"] == 75
    card = (out / "export" / "dataset" / "README.md").read_text()
    assert "| select | select | 314 | 200 | 114 |" in card
    again = cli("run", str(RECIPE), "--out", str(out), check=True)
    assert "nothing to do" in again.stderr
    (out / "select" / "done.json").unlink()
    third = cli("run", str(RECIPE), "--out", str(out), check=True)
    assert "[select] done: 314 in, 200 out, 114 rejected" in third.stderr
    assert "[near] done, skipped" in third.stderr
