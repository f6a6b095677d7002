"""SIGKILL a real `instructpipe run` while it waits on the real model; the re-run sends only the
requests the cache does not hold, and the stage's ledger comes out exact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.real_model.helpers import NO_KEY, OPEN, cache_keys, lines, run, stats, write_recipe


pytestmark = pytest.mark.timeout(3600)


def start(recipe, out) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **NO_KEY)
    return subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(recipe), "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_after_first_answer(proc: subprocess.Popen, out) -> set[str]:
    """SIGKILL once one reply is cached and the stage is not done; the cache keys held then."""
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if cache_keys(out, "respond") and not (out / "respond" / "done.json").exists():
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return cache_keys(out, "respond")
            time.sleep(0.05)
    finally:  # never leave the run behind: it would send requests during the next test
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    raise AssertionError(f"not caught mid-stage (exit {proc.returncode}): {proc.stderr.read()[-2000:]}")


def test_sigkill_then_rerun_answers_from_the_cache(real_server, tmp_path):
    stages = [{"id": "open", "op": "ingest", "source": "messages", "path": str(OPEN)},
              {"id": "respond", "op": "respond", "inputs": ["open"]}]
    recipe, out = write_recipe(tmp_path, real_server, stages, concurrency=1, max_tokens=32), tmp_path / "out"
    held = kill_after_first_answer(start(recipe, out), out)
    assert held and not (out / "respond" / "done.json").exists()

    before = len(real_server.posts())
    proc = run(recipe, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sent = len(real_server.posts()) - before
    st, after = stats(out, "respond"), cache_keys(out, "respond")
    assert st["requests"] == sent and len(after) == len(held) + sent  # nothing asked twice
    assert held <= after and st["cached"] >= len(held)
    kept, rejected = lines(out / "respond" / "data.jsonl"), lines(out / "respond" / "rejected.jsonl")
    assert len(kept) + len(rejected) == st["records_in"] == 3
    parents = [r["meta"]["parents"][0] for r in kept] + [r["record"]["id"] for r in rejected]
    assert len(set(parents)) == 3  # each question answered or rejected exactly once
