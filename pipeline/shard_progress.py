"""The progress of shards running elsewhere, for the driver's one progress bar.

A worker (a local process or a Ray task, on any node) writes how many records its shard has
done to `<stage>/shards/NNNNN/progress-<phase>` about once a second; the driver, while it waits for
shards, reads those of the running ones and advances the bar by what is new. The run folder is
the only state the driver and the workers share, so progress travels the same way as the files.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from pipeline.jsonl import read_json_file
from pipeline.rundir import STATS
from pipeline.shards import shard_dir

PROGRESS = "progress"
EVERY = 1.0  # seconds between a worker's writes
POLL = 0.5  # seconds the driver waits for a shard before it reads the progress files again


def progress_file(stage_dir: Path, index: int, phase: str) -> Path:
    return shard_dir(stage_dir, index) / f"{PROGRESS}-{phase}"


def reporter(stage_dir: Path, index: int, phase: str) -> Callable[[int], None]:
    """A worker's `advance(n)`: counts records and writes the count at most once every EVERY s."""
    state = {"n": 0, "last": time.monotonic()}
    path = progress_file(stage_dir, index, phase)

    def advance(n: int = 1) -> None:
        state["n"] += n
        now = time.monotonic()
        if now - state["last"] >= EVERY:
            state["last"] = now
            tmp = path.with_suffix(".tmp")
            tmp.write_text(str(state["n"]))
            tmp.replace(path)

    return advance


class Watcher:
    """The driver's side: advance the bar by the running shards' new records, and complete a
    shard's share when it finishes (a re-run shard starts from its last count: no double count)."""

    def __init__(self, stage_dir: Path, plan: dict, phase: str, todo: list[int], advance: Callable[[int], None]):
        self.stage_dir, self.plan, self.phase, self.advance = stage_dir, plan, phase, advance
        self.shown: dict[int, int] = {}
        for index in todo:  # what a killed attempt counted is not this attempt's progress
            progress_file(stage_dir, index, phase).unlink(missing_ok=True)

    def poll(self, running) -> None:
        for index in running:
            try:
                seen = int(progress_file(self.stage_dir, index, self.phase).read_text())
            except (OSError, ValueError):
                continue
            total = self.plan["shards"][index]["records"]
            self._show(index, min(seen, total) if total else seen)

    def finished(self, index: int) -> None:
        total = self.plan["shards"][index]["records"]
        if not total:  # a file per shard (ingest): its count is known once it is written
            stats = read_json_file(shard_dir(self.stage_dir, index) / STATS)
            total = stats.get("records_out", 0) + stats.get("rejected", 0)
        self._show(index, total)

    def _show(self, index: int, count: int) -> None:
        new = count - self.shown.get(index, 0)
        if new > 0:
            self.shown[index] = count
            self.advance(new)
