"""recipes/instag.yaml end to end against the fake server: tags, merges, Algorithm 1, export."""

from __future__ import annotations

import json
import re

from tests.conftest import ROOT, cli
from tests.fake_openai import FakeReply, completion_body
from tests.scoring.scripted import reply_code, split_record

STOP = {"the", "a", "an", "of", "to", "and", "for", "in", "on", "is", "with", "this", "that", "what", "how",
        "give", "write", "following", "given", "me", "your", "you", "it", "be", "are", "from", "by", "or"}


def tagger(call) -> FakeReply:
    """Tags from the query's content words: the first one alone, then pairs (so counts repeat)."""
    code, inside, _ = split_record(call.messages[1]["content"])
    words = [w for w in re.findall(r"[a-z]+", inside.lower()) if w not in STOP and len(w) > 3][:4]
    tags = [{"tag": w, "explanation": "topic"} for w in words[:3]] or [{"tag": "misc", "explanation": "x"}]
    text = json.dumps(tags)
    rc = reply_code(call)
    return FakeReply(200, completion_body(call.body, f"{rc}\n{text}" if rc else text))


def test_instag_recipe(tmp_path, server):
    server.reply_fn = tagger
    out = tmp_path / "instag"
    dry = cli("run", str(ROOT / "recipes" / "instag.yaml"), "--out", str(tmp_path / "dry"), "--dry-run",
              "--base-url", server.base_url, env={"OPENAI_API_KEY": "sk-test"})
    assert dry.returncode == 0, dry.stderr
    assert not [c for c in server.calls if c.body]          # the dry run sends no completion
    proc = cli("run", str(ROOT / "recipes" / "instag.yaml"), "--out", str(out), "--base-url", server.base_url,
               env={"OPENAI_API_KEY": "sk-test"})
    assert proc.returncode == 0, proc.stderr
    tags = json.loads((out / "tags" / "stats.json").read_text())
    assert tags["records_in"] == tags["records_out"] + tags["rejected"] == 120
    summary = json.loads((out / "tags" / "tags.json").read_text())
    assert summary["unique_tags"] > 0 and all(n >= 2 for n in summary["tags"].values())
    sample = json.loads((out / "sample" / "stats.json").read_text())
    assert sample["records_out"] == 40 and sample["records_in"] == sample["records_out"] + sample["rejected"]
    kept = [json.loads(x) for x in (out / "sample" / "data.jsonl").read_text().splitlines()]
    # Algorithm 1: the first pass takes records in falling tag count, each bringing a new tag
    first = [r for r in kept if r["meta"]["instag_pass"] == 1]
    assert first and all(r["meta"]["tags"] for r in first)
    dataset = out / "export" / "dataset"
    splits = [dataset / name for name in ("train.jsonl", "validation.jsonl") if (dataset / name).exists()]
    export = json.loads((out / "export" / "stats.json").read_text())
    # (one sampled Alpaca row has no answer: the export takes only complete records)
    assert sum(len(p.read_text().splitlines()) for p in splits) == 40 - export["rejected"] == export["records_out"]
