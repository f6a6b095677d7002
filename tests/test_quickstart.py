import hashlib
import json
from pathlib import Path

from tests.conftest import QUICKSTART, cli


def tree_hashes(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_quickstart_runs_and_rerun_is_a_byte_identical_noop(tmp_path):
    out = tmp_path / "qs"
    first = cli("run", str(QUICKSTART), "--out", str(out), check=True)
    assert "export" in first.stderr
    before = tree_hashes(out)
    second = cli("run", str(QUICKSTART), "--out", str(out), check=True)
    assert "nothing to do" in second.stderr
    assert tree_hashes(out) == before
    train = out / "export" / "dataset" / "train.jsonl"
    rows = [json.loads(line) for line in train.read_text().splitlines()]
    assert rows and all(r["messages"][-1]["role"] == "assistant" for r in rows)
