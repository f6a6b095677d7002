"""SIGKILL a real `instructpipe run` in the middle of a stage; the re-run loses and duplicates nothing."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

STAGES = ["in", "dedup", "filter", "export"]


def make_input(path: Path, n: int = 40000) -> None:
    rng = random.Random(5)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho".split()
    with open(path, "w") as fh:
        for i in range(n):
            k = i if i % 10 else i // 2  # every 10th record repeats an earlier instruction
            q = f"Question {k}: " + " ".join(random.Random(k).choice(words) for _ in range(10))
            a = " ".join(rng.choice(words) for _ in range(rng.randint(0, 30)))
            fh.write(json.dumps({"messages": [{"role": "user", "content": q},
                                              {"role": "assistant", "content": a or " "}]}) + "\n")


def recipe(tmp_path: Path, data: Path) -> Path:
    p = tmp_path / "kill.yaml"
    p.write_text(f"""
name: kill
stages:
  - {{id: in, op: ingest, source: messages, path: {data}, lenient: true}}
  - {{id: dedup, op: dedup_exact, inputs: [in], field: instruction}}
  - {{id: filter, op: filter, inputs: [dedup], min_words: 5}}
  - {{id: export, op: export, inputs: [filter], validation: 0.1}}
""")
    return p


def start(recipe_path: Path, out: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # SIGINT may be ignored by whatever started the tests (background jobs); a user's shell does not.
    return subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(recipe_path), "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def kill_during(proc: subprocess.Popen, out: Path, stage: str, min_bytes: int) -> bool:
    """SIGKILL once `stage` has written `min_bytes` and is not done; True if caught mid-stage."""
    data, done = out / stage / "data.jsonl", out / stage / "done.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if data.exists() and data.stat().st_size >= min_bytes and not done.exists():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return not done.exists()
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    return False


def snapshot(out: Path) -> dict:
    """Every stage's files, and its counters without the timing."""
    files = {}
    for st in STAGES:
        for name in ("data.jsonl", "rejected.jsonl"):
            files[f"{st}/{name}"] = (out / st / name).read_bytes()
        stats = json.loads((out / st / "stats.json").read_text())
        assert stats.pop("seconds") >= 0
        files[f"{st}/stats.json"] = stats
    for p in sorted((out / "export" / "dataset").iterdir()):
        files[f"export/dataset/{p.name}"] = p.read_bytes()
    return files


@pytest.mark.slow
def test_sigkill_mid_stage_then_rerun_loses_and_duplicates_nothing(tmp_path):
    data = tmp_path / "in.jsonl"
    make_input(data)
    r = recipe(tmp_path, data)
    ref = tmp_path / "ref"
    assert start(r, ref).wait() == 0
    expected = snapshot(ref)
    caught = 0
    for stage, min_bytes in (("in", 300_000), ("dedup", 1_000_000), ("filter", 200_000), ("export", 100_000)):
        out = tmp_path / f"kill_{stage}"
        caught += kill_during(start(r, out), out, stage, min_bytes)
        proc = start(r, out)
        assert proc.wait() == 0, proc.stderr.read().decode()
        got = snapshot(out)
        assert got.keys() == expected.keys()
        for name in expected:
            assert got[name] == expected[name], f"{name} differs after kill during {stage}"
        ids = [json.loads(line)["id"] for line in got["export/data.jsonl"].splitlines()]
        assert len(ids) == len(set(ids))
        stats = json.loads((out / "filter" / "stats.json").read_text())
        assert stats["records_in"] == stats["records_out"] + stats["rejected"]
    assert caught >= 3, "the kills should land inside running stages"


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_stop_gracefully_and_resume(tmp_path, sig, code):
    data = tmp_path / "in.jsonl"
    make_input(data, n=20000)
    r = recipe(tmp_path, data)
    ref = tmp_path / "ref"
    assert start(r, ref).wait() == 0
    out = tmp_path / "out"
    proc = start(r, out)
    target = out / "in" / "data.jsonl"
    deadline = time.monotonic() + 60
    while not (target.exists() and target.stat().st_size > 100_000) and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(sig)
    assert proc.wait() == code
    assert "run the same command again to resume" in proc.stderr.read().decode()
    assert start(r, out).wait() == 0
    assert snapshot(out) == snapshot(ref)
