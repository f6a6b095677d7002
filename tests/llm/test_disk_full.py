"""Issue 15 item 5 (the LLM part): when the disk fills during an LLM stage, the user sees the error,
not a traceback per outstanding request ("Task exception was never retrieved")."""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
from collections import Counter
from functools import partial

import pytest

from pipeline.errors import LLMError
from pipeline.llm.client import StageClient
from pipeline.llm.settings import LLMSettings
from pipeline.llm.types import Request
from tests.conftest import cli
from tests.fake_openai import ok
from tests.llm.conftest import CANARY_KEY, write_recipe

UNREAD = "Task exception was never retrieved"


async def work(i: int, ask):
    reply = await ask(Request.chat([{"role": "user", "content": f"q{i}"}]))
    if i % 2:
        raise LLMError("cache: cannot store a response (database or disk is full)")
    return reply.text


def test_a_consumer_failing_mid_stream_leaves_no_unread_task_errors(tmp_path, fake_openai, caplog):
    """The runner's write fails (disk full) while failed tasks wait to be read: the op's generator is
    left suspended and the runner closes the client; every task's outcome must be read there."""
    settings = LLMSettings(model="m", base_url=fake_openai.base_url, concurrency=16)
    llm = StageClient("answers", settings, fake_openai.base_url, tmp_path, Counter())
    stream = llm.run_tasks(partial(work, i) for i in range(64))
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        next(stream)            # one result reaches the consumer, whose write then fails
        llm.close()             # what the runner does on the way out
        del stream
        gc.collect()
    assert not [r for r in caplog.records if UNREAD in r.getMessage()]


def mount_small_tmpfs(path) -> bool:
    if os.geteuid() != 0:
        return False
    path.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_disk_full_during_an_llm_stage_prints_no_task_tracebacks(tmp_path, fake_openai):
    disk = tmp_path / "disk"
    if not mount_small_tmpfs(disk):
        pytest.skip("a full disk needs a small tmpfs: mounting one needs root")
    try:
        source = tmp_path / "open.jsonl"
        source.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"question {i}"}]}) + "\n"
                                  for i in range(600)))
        fake_openai.reply_fn = ok("a" * 3000, delay=0.01)
        recipe = write_recipe(tmp_path, fake_openai.base_url, inputs=(source,), llm={"concurrency": 64})
        proc = cli("run", str(recipe), "--out", str(disk / "run"), env={"OPENAI_API_KEY": CANARY_KEY})
    finally:
        subprocess.run(["umount", str(disk)], check=True)
    assert proc.returncode == 1
    assert "No space left on device" in proc.stderr or "disk is full" in proc.stderr
    assert UNREAD not in proc.stderr, proc.stderr[-3000:]  # was 73 of them, 1,536 lines
