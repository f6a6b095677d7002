"""Issue 11 item 1, the rest: per-record LLM scorers, tag, dedup_semantic and ingest of a folder
run as shards at --workers 2 and write the same files as one process."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from tests.conftest import FIXTURES, cli
from tests.fake_openai import FakeCall, FakeReply, completion_body

ENV = {"OPENAI_API_KEY": "sk-test-scale-0000"}
ALPACA = FIXTURES / "curation" / "alpaca_slice.json"


def run_both(tmp_path: Path, recipe: Path, stage: str, extra: tuple[str, ...] = ()) -> dict:
    """The stage's files and counters (without timings) at --workers 1 and 2."""
    files = {}
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        proc = cli("run", str(recipe), "--out", str(out), "--workers", workers, env=ENV)
        assert proc.returncode == 0, proc.stderr
        stats = json.loads((out / stage / "stats.json").read_text())
        stats.pop("seconds", None)
        files[workers] = {n: (out / stage / n).read_bytes() for n in ("data.jsonl", "rejected.jsonl", *extra)}
        files[workers]["stats"] = stats
    return files


def sharded(tmp_path: Path, stage: str) -> dict:
    return json.loads((tmp_path / "w2" / stage / "shards" / "plan.json").read_text())


def write(tmp_path: Path, llm: str, *stages: str, shard_size: int = 40) -> Path:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: more\nengine: {{shard_size: {shard_size}}}\n{llm}\nstages:\n"
                      f"  - {{id: in, op: ingest, source: alpaca, path: {ALPACA}}}\n"
                      + "".join(f"  - {s}\n" for s in stages))
    return recipe


def pick(text: str, *choices: str) -> str:
    return choices[hashlib.sha256(text.encode()).digest()[0] % len(choices)]


def labeller(*labels: str):
    def reply(call: FakeCall) -> FakeReply:
        return FakeReply(200, completion_body(call.body, f"{pick(call.last_user, *labels)}\nbecause"))
    return reply


def llm_block(server) -> str:
    return f'llm: {{model: fake-model, base_url: "{server.base_url}", concurrency: 8}}'


def test_edu_value_and_ifs_shard_and_keep_their_shares(tmp_path, server):
    server.reply_fn = labeller("high", "low", "answer", "continuation", "neither")
    recipe = write(tmp_path, llm_block(server), "{id: edu, op: edu_value, inputs: [in]}",
                   "{id: ifs, op: ifs, inputs: [in]}")
    for stage, share in (("edu", "edu_value"), ("ifs", "ifs")):
        files = run_both(tmp_path / stage, recipe, stage)
        assert files["1"] == files["2"], stage
        st = files["2"]["stats"]
        assert 0 < st[share] < 1 and st["rejected"] > 0  # the share of the whole stage, not a sum
        assert len(sharded(tmp_path / stage, stage)["shards"]) == 8


def tagger(call: FakeCall) -> FakeReply:
    """Tags from the query's words: some common to many records, some rare, in varied spellings."""
    first = [m["content"] for m in call.messages if m["role"] == "user"][0]
    if pick(first, *"abcdefghijkl") == "a" or pick(call.last_user, *"abcdefgh") == "b":  # not JSON: re-asked
        return FakeReply(200, completion_body(call.body, "Sure! Writing, coding"))
    words = re.findall(r"[a-z]{5,}", call.last_user.lower().split("<<<")[-1])
    tags = [pick(w, "Writing", "writing", "Math", "coding", "fact lookup", "facts-lookup") for w in words[:4]]
    tags += words[:2]
    return FakeReply(200, completion_body(call.body, json.dumps([{"tag": t, "explanation": "x"} for t in tags])))


def test_tag_asks_per_shard_and_normalises_over_the_whole_stage(tmp_path, server):
    server.reply_fn = tagger
    recipe = write(tmp_path, llm_block(server),
                   "{id: tags, op: tag, inputs: [in], min_count: 3, association_merge: true, min_support: 5, "
                   "confidence: 0.9, semantic_merge: 0.3, embedder: hashing}")
    files = run_both(tmp_path, recipe, "tags", ("tags.json",))
    assert files["1"] == files["2"]
    summary = json.loads(files["2"]["tags.json"])
    assert summary["records"] == files["2"]["stats"]["records_out"] and 5 < summary["unique_tags"] < 200
    st = files["2"]["stats"]
    assert st["tags_merged_association"] > 0 and st["tags_merged_semantic"] > 0
    assert st["reasked"] > 0 and st["dropped_tag_bad_json"] > 0 and st["requests"] > st["records_in"]
    assert len(sharded(tmp_path, "tags")["shards"]) == 8


def test_dedup_semantic_embeds_per_shard_and_decides_once(tmp_path):
    recipe = write(tmp_path, "", "{id: sem, op: dedup_semantic, inputs: [in], threshold: 0.8, keep: longest}",
                   shard_size=30)
    files = run_both(tmp_path, recipe, "sem")
    assert files["1"] == files["2"]
    assert files["2"]["stats"]["rejected"] == 13
    assert len(sharded(tmp_path, "sem")["shards"]) == 10


def test_ingest_of_a_folder_reads_a_file_per_shard(tmp_path):
    folder = tmp_path / "data"
    (folder / "more").mkdir(parents=True)
    rows = json.loads(ALPACA.read_text())
    (folder / "a.json").write_text(json.dumps(rows[:100]))
    with open(folder / "more" / "b.jsonl", "w") as fh:
        for row in rows[100:200]:
            fh.write(json.dumps(row) + "\n")
        fh.write("{not json\n")
        fh.write(json.dumps({"instruction": "", "output": "empty instruction"}) + "\n")
    (folder / "c.jsonl").write_text("")
    (folder / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[200:] + rows[:5]))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: many\nstages:\n  - {{id: in, op: ingest, source: alpaca, path: {folder}, "
                      "lenient: true}\n")
    files = run_both(tmp_path, recipe, "in")
    assert files["1"] == files["2"]
    st = files["2"]["stats"]
    assert st["records_in"] == 291 and st["rejected"] == 2 and st["empty_files"] == 1
    assert [Path(s["file"]).name for s in sharded(tmp_path, "in")["shards"]] == ["a.json", "c.jsonl", "d.jsonl",
                                                                                 "b.jsonl"]
    assert not (tmp_path / "w1" / "in" / "shards").exists()


def judge(call: FakeCall) -> FakeReply:
    """A score from the judged text (the reply code first, as the judge asks); some replies unusable."""
    from tests.scoring.scripted import reply_code, split_record

    _, inside, _ = split_record(call.messages[1]["content"])
    score = pick(inside + str(len(call.messages)), "0", "1", "2", "3", "4", "5", "five")
    return FakeReply(200, completion_body(call.body, f"{reply_code(call) or ''} {score}\nbecause".strip()))


def test_pairs_groups_once_and_judges_per_shard(tmp_path, server):
    server.reply_fn = judge
    rows = json.loads(ALPACA.read_text())[:70]
    path = tmp_path / "answers.jsonl"
    with open(path, "w") as fh:  # a prompt's answers far apart, so its group spans shards
        for k, variant in enumerate(("{o}", "{o} Hope this helps.", "In short: {o}", "{o}", "")):
            for i, row in enumerate(rows):
                if (i + k) % 4 or k in (0, 1):
                    answer = variant.format(o=row["output"])
                    turns = [{"role": "user", "content": row["instruction"]}]
                    turns += [{"role": "assistant", "content": answer}] if answer else []
                    fh.write(json.dumps({"messages": turns, "meta": {"n": k}}) + "\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: pairs\nengine: {{shard_size: 45}}\n{llm_block(server)}\nstages:\n"
                      f"  - {{id: in, op: ingest, source: messages, path: {path}}}\n"
                      "  - {id: pairs, op: pairs, inputs: [in], min_margin: 1}\n")
    files = run_both(tmp_path, recipe, "pairs")
    assert files["1"] == files["2"]
    st = files["2"]["stats"]
    reasons = [json.loads(x)["reason"] for x in files["2"]["rejected.jsonl"].splitlines()]
    assert {"incomplete", "duplicate_response", "not_chosen", "no_margin"} <= set(reasons)
    assert st["records_out"] > 10 and st["consumed"] == st["records_out"]
    assert len(sharded(tmp_path, "pairs")["shards"]) > 4


def test_generate_without_a_schema_shards(tmp_path, server):
    server.reply_fn = lambda call: FakeReply(200, completion_body(
        call.body, pick(call.messages[0]["content"], "A question about it?", "", "Another one.")))
    (tmp_path / "ask.md").write_text("---\nname: ask\nversion: 1\nvariables: [instruction]\n---\n"
                                     "Ask a follow-up question about: {{ instruction }}\n")
    recipe = write(tmp_path, llm_block(server), "{id: gen, op: generate, inputs: [in], prompt: ask.md, n: 2, "
                   "output: {user: text}}")
    files = run_both(tmp_path, recipe, "gen")
    assert files["1"] == files["2"]
    st = files["2"]["stats"]
    assert st["generated"] == 2 * 284 and st["consumed"] == 284 and st["rejected"] > 0
    assert len(sharded(tmp_path, "gen")["shards"]) == 8


def test_a_resumed_tag_stage_keeps_the_decision_and_its_counters(tmp_path, server):
    server.reply_fn = tagger
    recipe = write(tmp_path, llm_block(server), "{id: tags, op: tag, inputs: [in], min_count: 3, "
                   "association_merge: true, min_support: 5, confidence: 0.9}")
    out = tmp_path / "run"
    cli("run", str(recipe), "--out", str(out), "--workers", "2", env=ENV, check=True)
    before = {n: (out / "tags" / n).read_bytes() for n in ("data.jsonl", "rejected.jsonl", "tags.json")}
    stats = json.loads((out / "tags" / "stats.json").read_text())
    asked = server.completions
    for name in ("done.json", "data.jsonl", "stats.json"):  # as if the driver died while applying
        (out / "tags" / name).unlink()
    for i in (2, 5):
        (out / "tags" / "shards" / f"{i:05d}" / "done.json").unlink()
    proc = cli("run", str(recipe), "--out", str(out), "--workers", "2", env=ENV, check=True)
    assert "6 done before" in proc.stderr and server.completions == asked  # nothing asked again
    assert before == {n: (out / "tags" / n).read_bytes() for n in before}
    again = json.loads((out / "tags" / "stats.json").read_text())
    assert {k: v for k, v in again.items() if k != "seconds"} == {k: v for k, v in stats.items() if k != "seconds"}


def test_dedup_semantic_resumes_after_a_reduce_killed_before_its_marker(tmp_path):
    recipe = write(tmp_path, "", "{id: sem, op: dedup_semantic, inputs: [in], threshold: 0.8}")
    out = tmp_path / "run"
    cli("run", str(recipe), "--out", str(out), "--workers", "2", check=True)
    stage = out / "sem"
    before = (stage / "data.jsonl").read_bytes()
    # killed after the decisions were written and the embeddings removed, before reduce.json
    for path in [stage / "done.json", stage / "shards" / "reduce.json", *stage.glob("shards/*/done.json")]:
        path.unlink()
    proc = cli("run", str(recipe), "--out", str(out), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert (stage / "data.jsonl").read_bytes() == before
