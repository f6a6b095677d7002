"""Issue 15 item 5 (runner part): a stage id that would clash with the run folder's own files, a
full disk and a read-only run folder each end in one clear line and exit 1."""

import textwrap

import pytest

from tests.conftest import SAMPLES, cli


def recipe_with_id(tmp_path, sid: str):
    p = tmp_path / "r.yaml"
    p.write_text(textwrap.dedent(f"""
        name: t
        stages:
          - id: first
            op: ingest
            source: alpaca
            path: {SAMPLES / "alpaca_sample.json"}
          - id: {sid}
            op: filter
            inputs: [first]
    """))
    return p


@pytest.mark.parametrize("sid", ["manifest.json", "cache", "Cache", "reviews", "report.html", "dry-run"])
def test_a_stage_id_naming_a_run_folder_entry_is_refused(tmp_path, sid):
    proc = cli("run", str(recipe_with_id(tmp_path, sid)), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "stages[1].id" in proc.stderr and "reserved" in proc.stderr
    assert not (tmp_path / "out").exists()
