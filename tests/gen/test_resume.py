"""Each generation op killed (SIGKILL) halfway through a CLI run, then resumed: the same records
and rejections as an uninterrupted run, and no request answered before the kill is sent again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.conftest import ROOT
from tests.gen.conftest import ALPACA, KEY, lines, run_recipe, stats, write_recipe

ALPACA_SEEDS = {"source": "alpaca", "path": str(ALPACA), "limit": 12}
GUIDED = str(ROOT / "recipes" / "attributes" / "guided_example.yaml")
CASES = {
    "self_instruct": ({"target": 24, "requests_per_round": 4}, None),
    "alpaca_instruct": ({"target": 40, "requests_per_round": 2}, None),
    "evol_instruct": ({"rounds": 3}, ALPACA_SEEDS),
    "evol_code": ({"rounds": 2}, ALPACA_SEEDS),
    "guided_instruct": ({"inputs": [], "target": 30, "requests_per_round": 2, "attributes": GUIDED}, None),
    "unnatural_instruct": ({"target": 12, "requests_per_round": 4, "reformulations": 1}, None),
}
CONCURRENCY = 4
COUNTERS = ("records_in", "records_out", "rejected", "generated", "consumed")


def outcome(out):
    data = [r["id"] for r in lines(out / "gen" / "data.jsonl")]
    rejected = Counter((x["reason"], (x.get("record") or {}).get("id")) for x in lines(out / "gen" / "rejected.jsonl"))
    st = stats(out)
    return data, rejected, {k: st.get(k, 0) for k in COUNTERS}


def kill_at(recipe, out, server, hits: int) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENAI_API_KEY=KEY)
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(recipe), "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while server.completions < hits and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert proc.poll() is None, f"the run ended before {hits} requests: {proc.communicate()[1][-800:]}"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("op", list(CASES))
def test_sigkill_then_resume_repeats_no_answered_request(tmp_path, server, op):
    params, seeds = CASES[op]
    recipe = write_recipe(tmp_path / "ref", server.base_url, {"op": op, **params}, seeds=seeds,
                          llm={"concurrency": CONCURRENCY})
    run_recipe(recipe, tmp_path / "ref" / "run")
    want, asked = outcome(tmp_path / "ref" / "run"), set(server.hits)
    total = server.completions
    server.reset_counts()

    server.latency = 0.01
    recipe = write_recipe(tmp_path / "killed", server.base_url, {"op": op, **params}, seeds=seeds,
                          llm={"concurrency": CONCURRENCY})
    out = tmp_path / "killed" / "run"
    kill_at(recipe, out, server, total // 2)
    assert not (out / "gen" / "done.json").exists()
    before = sum(server.hits.values())
    run_recipe(recipe, out)

    assert outcome(out) == want
    assert set(server.hits) == asked, "the resumed run asked other questions"
    assert max(server.hits.values()) <= 2
    assert sum(1 for v in server.hits.values() if v == 2) <= CONCURRENCY, "answered requests sent again"
    assert sum(server.hits.values()) - before == stats(out)["requests"]
    assert stats(out)["cached"] >= before - CONCURRENCY
