"""Issue 15 item 1 without an LLM: an interrupted attempt whose files disagree with what the op
produces now (a record that became a rejection and one that went the other way) resumes to
exactly the files of an uninterrupted run; `--force` empties the stage folder first."""

import json

from pipeline.rundir import RunDir
from tests.core.test_runner import make_recipe, run


def test_outcomes_that_flipped_both_ways_resume_to_the_clean_files(tmp_path):
    r = make_recipe(tmp_path, min_words=5)
    run(tmp_path, r)
    rd = RunDir(tmp_path / "out")
    data, rejected = rd.file("filter", "data.jsonl"), rd.file("filter", "rejected.jsonl")
    clean = {p: p.read_bytes() for p in (data, rejected, rd.file("filter", "stats.json"))}
    kept = data.read_text().splitlines()
    dropped = rejected.read_text().splitlines()
    assert kept and dropped
    # an earlier attempt had rejected kept[0] and kept dropped[0]'s record
    was_rejected = json.dumps({"reason": "too_short", "record": json.loads(kept[0])})
    was_kept = json.dumps(json.loads(dropped[0])["record"])
    data.write_text("\n".join(kept[1:10] + [was_kept]) + "\n")
    rejected.write_text("\n".join([was_rejected] + dropped[1:]) + "\n")
    rd.remove("filter", "done.json")
    assert run(tmp_path, r)["filter"] == "ran"
    stats = json.loads(rd.file("filter", "stats.json").read_text())
    assert stats.pop("seconds", None) is not None
    want = json.loads(clean[rd.file("filter", "stats.json")])
    want.pop("seconds", None)
    assert stats == want
    assert data.read_bytes() == clean[data] and rejected.read_bytes() == clean[rejected]


def test_force_empties_the_stage_folder(tmp_path):
    r = make_recipe(tmp_path)
    run(tmp_path, r)
    rd = RunDir(tmp_path / "out")
    before = rd.file("filter", "data.jsonl").read_bytes()
    (rd.stage_dir("filter") / "stale.txt").write_text("left by an older version")
    assert run(tmp_path, r, force=("filter",))["filter"] == "ran"
    assert not (rd.stage_dir("filter") / "stale.txt").exists()
    assert rd.file("filter", "data.jsonl").read_bytes() == before
