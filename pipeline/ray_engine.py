"""Shards as Ray tasks (`run --engine ray [--address ADDR]`): the same `run_shard`, on a cluster.

The run folder is the only shared state, so it must be on storage every node sees: `connect`
checks that on every node by a probe file written from a task pinned to it. At most `workers`
shards run at once, each holding one worker slot, so an LLM stage's limits split exactly as with
local processes. A task whose worker dies is retried by Ray; the shard starts afresh (`run_shard`
removes what a killed attempt wrote).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from pipeline.errors import ConfigError, UserError
from pipeline.shard_progress import POLL, Watcher, reporter
from pipeline.shards import ShardJob, run_shard

RETRIES = 3
PROBE = ".engine-probe"


def import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--engine ray needs Ray: pip install 'instructpipe[ray]'") from None
    return ray


def connect(address: str | None, run_dir: Path) -> None:
    """Join the cluster at `address` (`auto`, HOST:PORT; none: a local Ray) and check that the
    workers of every node see the run folder."""
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, include_dashboard=False,
                 runtime_env={"env_vars": {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}})
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    for node in worker_nodes(ray):
        check_node(ray, node, run_dir)


def worker_nodes(ray) -> list[dict]:
    """The live nodes that can run a task (they have CPUs)."""
    return [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]


def check_node(ray, node: dict, run_dir: Path) -> None:
    """A probe file written by a task pinned to `node` must be what this driver reads back."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = run_dir / f"{PROBE}-{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    pinned = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
    try:
        ray.get(ray.remote(_write_probe).options(scheduling_strategy=pinned, num_cpus=0).remote(str(probe), token))
        seen = probe.read_text() if probe.exists() else None
    finally:
        probe.unlink(missing_ok=True)
    if seen != token:
        where = node.get("NodeManagerAddress", "?")
        raise UserError(f"{run_dir}: Ray workers on node {where} ({node['NodeID'][:12]}) cannot write the "
                        "run folder where this driver reads it; put the run folder on storage every node "
                        "sees, at the same path (NFS, a shared mount)")


def cluster_cpus() -> int:
    """The CPUs of the cluster the run joined (`connect`, before the first stage)."""
    return max(1, int(import_ray().cluster_resources().get("CPU", 1)))


def _write_probe(path: str, token: str) -> None:
    try:
        Path(path).write_text(token)
    except OSError:
        pass


def _task(job: ShardJob, index: int, slot: int) -> int:
    run_shard(job, index, slot, reporter(job.stage_dir, index, job.phase))
    return index


def run_in_ray(job: ShardJob, todo: list[int], workers: int, advance) -> None:
    """Run shards `todo` as Ray tasks, at most `workers` at once (one worker slot each)."""
    ray = import_ray()
    task = ray.remote(max_retries=RETRIES, retry_exceptions=False)(_task)
    queue, running, free = list(todo), {}, list(range(workers))
    ref_job = ray.put(job)
    watcher = Watcher(job.stage_dir, job.plan, job.phase, todo, advance)
    try:
        while queue or running:
            while queue and free:
                i, slot = queue.pop(0), free.pop(0)
                running[task.remote(ref_job, i, slot)] = (i, slot)
            done, _ = ray.wait(list(running), num_returns=1, timeout=POLL)
            if done:
                i, slot = running.pop(done[0])
                ray.get(done[0])  # a shard's error stops the stage here
                free.append(slot)
                watcher.finished(i)
            watcher.poll(i for i, _ in running.values())
    except BaseException:
        for ref in running:
            ray.cancel(ref, force=True)
        raise
