"""Every chat op resumes after SIGKILL: the re-run writes the same records, pays no answered turn twice,
and a conversation cut mid-way replays its cached turns and continues where it stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.chat.conftest import KEY, lines, questions, results, run, write_recipe, write_rows
from tests.chat.test_ops_translate import english_rows
from tests.conftest import ROOT

pytest.importorskip("py3langid")

Q = questions("What causes tides?", "Why is the sky blue?", "How do bees make honey?", "What is rust?")
CASES = {
    "self_chat_v1": ({"op": "self_chat", "variant": "v1"}, Q, 2),
    "self_chat_v2": ({"op": "self_chat", "variant": "v2", "max_turns": 3}, Q, 9),
    "role_play": ({"op": "role_play", "assistant_roles": ["Chef"], "user_roles": ["Student"],
                   "tasks": ["Bake bread together.", "Cook rice.", "Plan a menu."], "max_messages": 8}, None, 9),
    "user_sim": ({"op": "user_sim", "min_rounds": 3, "max_rounds": 3}, Q, 8),
    "self_refine": ({"op": "self_refine"}, Q, 6),
    "translate": ({"op": "translate", "languages": ["zh", "de", "fr"], "source_lang": "en"}, None, 9),
    "interactive_translate": ({"op": "interactive_translate", "target_langs": ["zh", "de"],
                               "source_lang": "en"}, None, 6),
}


def recipe_for(folder, server, case):
    params, rows, _ = CASES[case]
    folder.mkdir(parents=True, exist_ok=True)
    stage = {"id": "op", **params}
    data = None
    if params["op"] != "role_play":
        data = write_rows(folder / "in.jsonl", rows or english_rows(3))
        stage["inputs"] = ["in"]
    return write_recipe(folder, server.base_url, [stage], data=data, llm={"concurrency": 2})


def kill_at(recipe, out, server, hits: int) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENAI_API_KEY=KEY)
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(recipe), "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while server.completions < hits and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert proc.poll() is None, f"the run ended before {hits} requests: {proc.stderr.read()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()


@pytest.mark.parametrize("case", list(CASES))
def test_sigkill_mid_stage_then_resume(tmp_path, server, case):
    ref = tmp_path / "ref"
    run(recipe_for(ref, server, case), ref / "out")
    want, want_rej, ref_stats = results(ref / "out", "op")
    keys = len(server.hits)
    assert ref_stats["requests"] == sum(server.hits.values()) == keys     # every turn asked once
    server.reset_counts()
    server.latency = 0.01
    work = tmp_path / "work"
    recipe = recipe_for(work, server, case)
    kill_at(recipe, work / "out", server, CASES[case][2])
    assert not (work / "out" / "op" / "done.json").exists()
    before = dict(server.hits)
    run(recipe, work / "out")
    got, got_rej, stats = results(work / "out", "op")
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in want)
    assert len(got_rej) == len(want_rej)
    assert len(server.hits) == keys
    assert max(server.hits.values()) <= 2 and sum(v == 2 for v in server.hits.values()) <= 2
    assert stats["requests"] == sum(server.hits.values()) - sum(before.values())
    assert stats["cached"] >= len(before) - 2


def test_a_conversation_cut_mid_way_continues_from_its_cached_turns(tmp_path, server):
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "op", "op": "self_chat", "inputs": ["in"], "variant": "v2", "max_turns": 6}],
        data=write_rows(tmp_path / "in.jsonl", questions("sourdough")), llm={"concurrency": 1})
    server.latency = 0.02
    kill_at(recipe, tmp_path / "out", server, 5)
    assert lines(tmp_path / "out" / "op" / "data.jsonl") == []
    paid = dict(server.hits)
    run(recipe, tmp_path / "out")
    (rec,), _, stats = results(tmp_path / "out", "op")
    assert rec["meta"]["turns"] == 5 and len(server.hits) == 12   # 6 asked, the last dropped as Baize
    # the turns paid before the kill came from the cache; only the rest (and at most the one
    # request in flight at the kill) went to the server
    assert stats["cached"] + stats["requests"] == 12
    assert stats["cached"] >= len(paid) - 1 and stats["requests"] <= 12 - len(paid) + 1
    assert max(server.hits.values()) <= 2
