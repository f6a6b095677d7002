"""Issue 11 item 5: a worker or the driver killed mid-shard; the re-run writes the same files,
every ledger exact, and pays again at most the requests that were in flight."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, cli
from tests.scale.conftest import STAGES, make_input, snapshot, write_recipe

ENV = {"OPENAI_API_KEY": "sk-test-scale-0000"}
CONCURRENCY = 4


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def setup(tmp_path, server):
    """The recipe, and the files of an undisturbed one-process run of it."""
    recipe = write_recipe(tmp_path, make_input(tmp_path / "in.jsonl"), server.base_url,
                          concurrency=CONCURRENCY)
    cli("run", str(recipe), "--out", str(tmp_path / "ref"), env=ENV, check=True)
    server.reset_counts()
    server.latency = 0.03  # slow answers, so the kill lands inside a shard
    return recipe


def start(recipe: Path, out: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **ENV)
    return subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(recipe), "--out", str(out),
                             "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def wait_mid_answer(proc: subprocess.Popen, out: Path, server) -> list[int]:
    """Wait until the LLM stage has a finished shard and requests in flight; its workers' pids."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        workers = children(proc.pid)
        if server.completions > 50 and len(workers) >= 2 and (out / "answer" / "shards" / "00000" / "done.json").exists():
            return workers
        time.sleep(0.01)
    raise AssertionError(f"never caught the answer stage mid-way: {proc.poll()}")


def same_files(out: Path, ref: Path) -> None:
    """The files of an undisturbed run; of the counters, requests answered by the endpoint in an
    earlier attempt count as cache hits now (so does the dataset card that shows them)."""
    got, want = snapshot(out), snapshot(ref)
    for files in (got, want):
        del files["README.md"]
        stats = files["answer/stats.json"]
        stats["answered"] = stats.pop("requests") + stats.pop("cached")
    assert got == want


def check_exactly_once(server) -> None:
    """Each request answered once, but those in flight at the kill: at most the concurrency."""
    assert max(server.hits.values()) <= 2
    assert sum(n - 1 for n in server.hits.values()) <= CONCURRENCY


def check_ledgers(out: Path) -> None:
    for st in STAGES:
        s = json.loads((out / st / "stats.json").read_text())
        assert s["records_in"] + s.get("generated", 0) == s["records_out"] + s["rejected"] + s.get("consumed", 0)


def test_a_worker_killed_mid_shard_is_replaced_and_its_shard_redone(tmp_path, server):
    recipe = setup(tmp_path, server)
    out = tmp_path / "run"
    proc = start(recipe, out)
    workers = wait_mid_answer(proc, out, server)
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert "a worker process died; re-running" in err
    same_files(out, tmp_path / "ref")
    check_ledgers(out)
    check_exactly_once(server)


def test_the_driver_killed_mid_stage_takes_its_workers_and_the_rerun_skips_finished_shards(tmp_path, server):
    recipe = setup(tmp_path, server)
    out = tmp_path / "run"
    proc = start(recipe, out)
    workers = wait_mid_answer(proc, out, server)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(w) for w in workers)  # no orphan writes on after its driver
    rows = {r["id"]: r for r in json.loads(cli("status", str(out), "--json", check=True).stdout)}
    assert rows["answer"]["state"] == "partial"
    assert 1 <= rows["answer"]["shards_done"] < rows["answer"]["shards_total"]
    assert rows["filter"]["shards_done"] == rows["filter"]["shards_total"]
    server.latency = 0.0
    proc = cli("run", str(recipe), "--out", str(out), "--workers", "2", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert f"[answer] resuming: {rows['answer']['shards_done']} of {rows['answer']['shards_total']} shards are done" \
        in proc.stderr
    same_files(out, tmp_path / "ref")
    check_ledgers(out)
    check_exactly_once(server)
