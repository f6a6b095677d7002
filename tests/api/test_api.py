"""The Python API is the CLI's code: same bytes, same errors, same resume."""

from __future__ import annotations

import pytest

import pipeline
from pipeline.errors import ConfigError, InputError
from tests.conftest import QUICKSTART, cli


def test_run_recipe_writes_what_the_cli_writes(tmp_path):
    cli("run", str(QUICKSTART), "--out", str(tmp_path / "by_cli"), check=True)
    run = pipeline.run_recipe(QUICKSTART, tmp_path / "by_api")
    by_cli = pipeline.open_run(tmp_path / "by_cli")
    assert [s.id for s in run.stages] == [s.id for s in by_cli.stages] and run.stage().id == "export"
    for stage in run.stages:
        assert stage.state == "done"
        assert stage.output.read_bytes() == (tmp_path / "by_cli" / stage.id / "data.jsonl").read_bytes()
    assert run.status() == [{**row, "output": row["output"].replace("by_cli", "by_api")}
                            for row in by_cli.status()]


def test_run_op_over_records_and_files(tmp_path):
    recs = [pipeline.Record.new([{"role": "user", "content": "a b c d"}, {"role": "assistant", "content": "e"}]),
            {"messages": [{"role": "user", "content": "x"}], "meta": {"scores": {"q": 1}}}]
    first = pipeline.run_op("mix", recs, recs, workdir=tmp_path / "w")
    assert [r.id for r in first.records] == [r["id"] if isinstance(r, dict) else r.id for r in
                                             [recs[0], first.records[1], recs[0], first.records[1]]]
    assert first.records[1].meta["scores"] == {"q": 1}
    from_file = pipeline.run_op("dedup_exact", tmp_path / "w" / "output.jsonl")
    assert len(from_file.records) == 2 and {r["reason"] for r in from_file.rejected} == {"duplicate"}
    assert from_file.run is None


def test_api_errors_are_the_cli_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown op 'dedup_exakt'; did you mean dedup_exact"):
        pipeline.run_op("dedup_exakt", [])
    with pytest.raises(ConfigError, match="not a record or dict"):
        pipeline.run_op("dedup_exact", ["just text"])
    with pytest.raises(InputError, match="not a run folder"):
        pipeline.open_run(tmp_path)
    with pytest.raises(ConfigError, match="recipe not found"):
        pipeline.run_recipe(tmp_path / "missing.yaml")
