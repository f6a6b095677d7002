"""Where shards run: in the driver's process, or in a pool of local worker processes.

Both call the same `run_shard(job, index, slot)` (pipeline/shards.py); a worker slot fixes the
worker's share of the stage's LLM limits. A worker killed mid-shard breaks the pool: the
shards without a `done.json` run again in a fresh pool (from their start, answered requests
from the cache), at most `RESTARTS` times.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from pipeline.errors import UserError
from pipeline.progress import say
from pipeline.shard_progress import POLL, Watcher, reporter
from pipeline.shards import ShardJob, run_shard

RESTARTS = 3
_JOB: ShardJob | None = None  # the job a forked worker inherits (it holds the op's function)
_SLOT = 0


def run_in_process(job: ShardJob, todo: list[int], advance) -> None:
    for index in todo:
        run_shard(job, index, 0, advance)


def run_in_pool(job: ShardJob, todo: list[int], workers: int, advance) -> None:
    """Run shards `todo` in `workers` forked processes; re-run the shards of a worker that died."""
    for attempt in range(RESTARTS + 1):
        try:
            _pool_pass(job, todo, workers, advance)
            return
        except BrokenProcessPool:
            todo = [i for i in todo if not job.done(i)]
            if attempt == RESTARTS:
                raise UserError(f"stage {job.stage.id}: worker processes died {RESTARTS + 1} times "
                                f"({len(todo)} shards unfinished); run the same command again "
                                "to resume, or with --workers 1") from None
            say(f"[{job.stage.id}] a worker process died; re-running {len(todo)} unfinished shards")


def _pool_pass(job: ShardJob, todo: list[int], workers: int, advance) -> None:
    global _JOB
    _JOB = job
    ctx = multiprocessing.get_context("fork")
    slots = ctx.Queue()
    for slot in range(workers):
        slots.put(slot)
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init, initargs=(slots, os.getpid()))
    watcher = Watcher(job.stage_dir, job.plan, job.phase, todo, advance)
    try:
        pending = {pool.submit(_run_index, i): i for i in todo}
        while pending:
            done, _ = wait(pending, timeout=POLL, return_when=FIRST_COMPLETED)
            for fut in done:
                fut.result()  # a shard's error (or a dead worker) stops the stage here
                watcher.finished(pending.pop(fut))
            watcher.poll(pending.values())
    except BaseException:
        # a failed shard, Ctrl-C, SIGTERM: stop the other workers now rather than after their
        # shards; what they wrote has no done.json, so a re-run redoes it
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in multiprocessing.active_children():
            proc.kill()
        raise
    pool.shutdown()


def _worker_init(slots, driver: int) -> None:
    global _SLOT
    _SLOT = slots.get()
    _die_with_parent(driver)
    # Ctrl-C reaches the whole process group: the driver stops the workers itself (and says so
    # once), rather than each worker printing its own traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_index(index: int) -> int:
    run_shard(_JOB, index, _SLOT, reporter(_JOB.stage_dir, index, _JOB.phase))
    return index


def _die_with_parent(driver: int) -> None:
    """A driver killed with SIGKILL takes its workers along (Linux), so none writes on after it."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != driver:  # the driver died before prctl took effect
        os._exit(1)
