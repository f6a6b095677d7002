"""The Ray fault scenarios of issue 11, run inside a loopback-only network namespace by
tests/scale/test_ray_faults.py: `python -m tests.scale.ray_kills FOLDER worker|driver [ADDRESS]`.

It starts the fake LLM server in this process, runs the test recipe once in one process (the
reference), then runs it on a local Ray with 2 workers and kills, mid-way through the LLM
stage, either one Ray worker process (Ray retries its task) or the driver (the re-run resumes).
With ADDRESS the runs join that Ray cluster instead, which outlives the driver: Ray ends the
dead job's tasks.
It asserts the same files as the reference, exact ledgers, and at most the requests in flight
paid twice; it prints `ok` last.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, cli
from tests.fake_openai import FakeOpenAI
from tests.scale.conftest import make_input, write_recipe
from tests.scale.test_faults import CONCURRENCY, ENV, check_exactly_once, check_ledgers, same_files

RAY = ["--engine", "ray", "--workers", "2"] + (["--address", sys.argv[3]] if len(sys.argv) > 3 else [])


def live_processes() -> dict[int, bytes]:
    """The first argument of every live (not zombie) process: Ray names its busy workers
    `ray::<function>`, its idle ones `ray::IDLE`."""
    out = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                out[int(entry.name)] = (entry / "cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
    return out


def ray_tasks() -> list[int]:
    """Pids of the Ray worker processes running a task now."""
    return [pid for pid, argv0 in live_processes().items() if argv0.startswith(b"ray::_task")]


def ray_workers() -> list[int]:
    """Pids of the Ray processes still alive that could run a task of the run (its workers, and
    the raylet of a local Ray); Ray's dashboard and runtime-env agents run no task, and exit on
    their own. A cluster's raylets and idle workers stay, of course: only busy ones count there."""
    if len(sys.argv) > 3:
        return ray_tasks()
    return [pid for pid, argv0 in live_processes().items()
            if (argv0.startswith(b"ray::") and not argv0.endswith(b"Agent")) or argv0.endswith(b"/raylet")]


def start(recipe: Path, out: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **ENV)
    return subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(recipe), "--out", str(out), *RAY],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_mid_answer(proc: subprocess.Popen, out: Path, server: FakeOpenAI) -> list[int]:
    """Until the LLM stage has a finished shard and tasks running; the running tasks' pids."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        tasks = ray_tasks()
        if server.completions > 50 and tasks and (out / "answer" / "shards" / "00000" / "done.json").exists():
            return tasks
        time.sleep(0.01)
    raise AssertionError(f"never caught the answer stage mid-way: {proc.poll()} {proc.stderr.read()[-2000:]}")


def kill_a_worker(recipe: Path, out: Path, server: FakeOpenAI) -> None:
    proc = start(recipe, out)
    tasks = wait_mid_answer(proc, out, server)
    os.kill(tasks[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    print(f"killed Ray worker {tasks[0]}; the run finished")


def kill_the_driver(recipe: Path, out: Path, server: FakeOpenAI) -> None:
    proc = start(recipe, out)
    wait_mid_answer(proc, out, server)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 60
    while ray_workers() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:60] for pid in ray_workers()}
    assert not left, f"Ray workers outlived their driver: {left}"  # so no task writes on
    done = sum((d / "done.json").exists() for d in (out / "answer" / "shards").iterdir() if d.is_dir())
    server.latency = 0.0
    rerun = cli("run", str(recipe), "--out", str(out), *RAY, env=ENV, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"[answer] resuming: {done} of " in rerun.stderr, rerun.stderr[-3000:]
    print(f"killed the driver with {done} answer shards done; the re-run finished")


def main() -> None:
    folder, mode = Path(sys.argv[1]), sys.argv[2]
    server = FakeOpenAI().start()
    try:
        recipe = write_recipe(folder, make_input(folder / "in.jsonl"), server.base_url, concurrency=CONCURRENCY)
        cli("run", str(recipe), "--out", str(folder / "ref"), env=ENV, check=True)
        server.reset_counts()
        server.latency = 0.03  # slow answers, so the kill lands inside a shard
        out = folder / "run"
        (kill_a_worker if mode == "worker" else kill_the_driver)(recipe, out, server)
        same_files(out, folder / "ref")
        check_ledgers(out)
        check_exactly_once(server)
    finally:
        server.stop()
    print("ok")


if __name__ == "__main__":
    main()
