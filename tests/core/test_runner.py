import json
import shutil
import textwrap

import pytest

from pipeline.errors import ConfigError, InputError, LockError
from pipeline.recipe import load_recipe
from pipeline.rundir import RunDir
from pipeline.runner import Runner, RunOptions
from tests.conftest import SAMPLES, cli


def make_recipe(tmp_path, min_words=1, alpaca=SAMPLES / "alpaca_sample.json"):
    p = tmp_path / "r.yaml"
    p.write_text(textwrap.dedent(f"""
        name: t
        stages:
          - id: alpaca
            op: ingest
            source: alpaca
            path: {alpaca}
          - id: seeds
            op: ingest
            source: self_instruct_seeds
            path: {SAMPLES / "self_instruct_seed_tasks.jsonl"}
          - id: mix
            op: mix
            inputs: [alpaca, seeds]
          - id: filter
            op: filter
            inputs: [mix]
            min_words: {min_words}
          - id: export
            op: export
            inputs: [filter]
    """))
    return load_recipe(p)


def run(tmp_path, recipe, **opts):
    return Runner(recipe, tmp_path / "out", RunOptions(**opts)).run()


def test_rerun_skips_and_a_changed_stage_reruns_with_its_downstream(tmp_path):
    first = run(tmp_path, make_recipe(tmp_path))
    assert set(first.values()) == {"ran"}
    assert set(run(tmp_path, make_recipe(tmp_path)).values()) == {"skipped"}
    changed = run(tmp_path, make_recipe(tmp_path, min_words=5))
    assert changed == {"alpaca": "skipped", "seeds": "skipped", "mix": "skipped",
                       "filter": "ran", "export": "ran"}


def test_only_until_force(tmp_path):
    r = make_recipe(tmp_path)
    assert run(tmp_path, r, until="mix") == {"alpaca": "ran", "seeds": "ran", "mix": "ran"}
    with pytest.raises(ConfigError, match="needs 'filter', which is not done"):
        run(tmp_path, r, only="export")
    assert run(tmp_path, r, only="filter") == {"filter": "ran"}
    assert run(tmp_path, r) == {"alpaca": "skipped", "seeds": "skipped", "mix": "skipped",
                                "filter": "skipped", "export": "ran"}
    forced = run(tmp_path, r, force=("mix",))
    assert forced == {"alpaca": "skipped", "seeds": "skipped", "mix": "ran", "filter": "ran", "export": "ran"}


def test_only_rerun_invalidates_downstream_markers(tmp_path):
    r = make_recipe(tmp_path)
    run(tmp_path, r)
    run(tmp_path, r, only="mix", force=("mix",))
    assert run(tmp_path, r)["filter"] == "ran"


def test_fingerprint_follows_file_content_not_path(tmp_path):
    moved = tmp_path / "elsewhere" / "renamed.json"
    moved.parent.mkdir()
    shutil.copy(SAMPLES / "alpaca_sample.json", moved)
    a = Runner(make_recipe(tmp_path), tmp_path / "o1").fps
    b = Runner(make_recipe(tmp_path, alpaca=moved), tmp_path / "o2").fps
    assert a == b
    data = json.loads(moved.read_text())
    data[0]["output"] += " (edited)"
    moved.write_text(json.dumps(data))
    c = Runner(make_recipe(tmp_path, alpaca=moved), tmp_path / "o3").fps
    assert c["alpaca"] != a["alpaca"] and c["export"] != a["export"] and c["seeds"] == a["seeds"]


def test_ledger_and_manifest(tmp_path):
    run(tmp_path, make_recipe(tmp_path))
    rd = RunDir(tmp_path / "out")
    manifest = rd.manifest()
    assert list(manifest["stages"]) == ["alpaca", "seeds", "mix", "filter", "export"]
    for sid, entry in manifest["stages"].items():
        stats = rd.stats(sid)
        assert stats["records_in"] + stats.get("generated", 0) == \
            stats["records_out"] + stats["rejected"] + stats.get("consumed", 0)
        assert entry["state"] == "done" and entry["records_out"] == stats["records_out"]
        assert sum(1 for _ in open(rd.file(sid, "data.jsonl"))) == stats["records_out"]
        assert sum(1 for _ in open(rd.file(sid, "rejected.jsonl"))) == stats["rejected"]
    assert manifest["stages"]["alpaca"]["files"]["path"]["size"] > 0
    assert manifest["versions"]["instructpipe"]
    assert manifest["stages"]["filter"]["records_in"] == 425


def test_lock_refuses_a_second_run(tmp_path):
    r = make_recipe(tmp_path)
    holder = RunDir(tmp_path / "out")
    holder.lock()
    try:
        with pytest.raises(LockError, match=r"locked by pid \d+"):
            run(tmp_path, r)
        proc = cli("run", str(r.path), "--out", str(tmp_path / "out"))
        assert proc.returncode == 1 and "locked by pid" in proc.stderr
        assert proc.stderr.strip().count("\n") == 0
    finally:
        holder.unlock()
    run(tmp_path, r)


def test_torn_tail_is_repaired_and_the_stage_resumes(tmp_path):
    r = make_recipe(tmp_path)
    run(tmp_path, r)
    rd = RunDir(tmp_path / "out")
    data = rd.file("mix", "data.jsonl")
    full = data.read_bytes()
    data.write_bytes(full[: len(full) // 2])  # cut inside a line, as a crash would
    rd.remove("mix", "done.json")
    assert run(tmp_path, r)["mix"] == "ran"
    assert data.read_bytes() == full


def test_corrupt_interior_line_refuses_with_file_and_line(tmp_path):
    r = make_recipe(tmp_path)
    run(tmp_path, r)
    rd = RunDir(tmp_path / "out")
    data = rd.file("mix", "data.jsonl")
    lines = data.read_text().splitlines(keepends=True)
    lines[39] = "garbage\n"
    data.write_text("".join(lines))
    rd.remove("mix", "done.json")
    with pytest.raises(InputError, match=rf"{data}:40:1: .*corrupt inside"):
        run(tmp_path, r)


def test_cli_llm_overrides_enter_the_fingerprint_and_urls_lose_credentials(tmp_path):
    p = tmp_path / "llm.yaml"
    p.write_text(textwrap.dedent(f"""
        name: t
        llm: {{model: m1, base_url: "http://user:pw@127.0.0.1:9/v1"}}
        stages:
          - id: a
            op: ingest
            source: alpaca
            path: {SAMPLES / "alpaca_sample.json"}
          - id: r
            op: respond
            inputs: [a]
    """))
    r = load_recipe(p)
    base = Runner(r, tmp_path / "o").fps["r"]
    assert Runner(load_recipe(p), tmp_path / "o", RunOptions(llm_overrides={"concurrency": 3})).fps["r"] == base
    assert Runner(load_recipe(p), tmp_path / "o", RunOptions(llm_overrides={"model": "m2"})).fps["r"] != base
    assert "user:pw" not in json.dumps(r.shown) and "http://***@127.0.0.1:9/v1" in json.dumps(r.shown)
