"""Issue 15 item 21: the limits the layer promises, each measured where it shows (the test server's
own counts, or a virtual clock), so that a regression in the code that enforces them fails here."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter

import pytest

from pipeline.errors import LLMError
from pipeline.llm.client import StageClient
from pipeline.llm.ratelimit import RateLimiter
from pipeline.llm.settings import LLMSettings
from pipeline.llm.types import Request
from tests.fake_batches import BatchScript
from tests.fake_openai import error
from tests.llm.conftest import check_ledger, read_lines, run_recipe, write_recipe
from tests.llm.test_crash_resume import start_cli


class VirtualClock:
    """An injected sleep that advances virtual time instead of waiting (and is the limiter's clock)."""

    def __init__(self):
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def asks(n: int) -> list[Request]:
    return [Request.chat([{"role": "user", "content": f"question {i}"}]) for i in range(n)]


def acquire_times(limiter: RateLimiter, clock: VirtualClock, tokens: list[int]) -> list[float]:
    async def go():
        out = []
        for amount in tokens:
            await limiter.acquire(amount)
            out.append(clock.now)
        return out
    return asyncio.run(go())


def test_rpm_lets_a_minute_burst_through_then_one_request_per_interval():
    clock = VirtualClock()
    times = acquire_times(RateLimiter(60, None, clock), clock, [10] * 65)
    assert times[:60] == [0.0] * 60
    assert times[60:] == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])


def test_tpm_waits_for_the_tokens_a_request_needs():
    clock = VirtualClock()
    # 1000 tokens a minute, 300 a request: three at once, then 300 tokens take 18 s to refill
    times = acquire_times(RateLimiter(None, 1000, clock), clock, [300] * 6)
    assert times == pytest.approx([0.0, 0.0, 0.0, 12.0, 30.0, 48.0])


def test_a_stage_with_rpm_is_paced_by_it(tmp_path, fake_openai):
    clock = VirtualClock()
    settings = LLMSettings(model="m", base_url=fake_openai.base_url, concurrency=1, rpm=30)
    llm = StageClient("t", settings, fake_openai.base_url, tmp_path, Counter(), sleep=clock)
    assert len(list(llm.run(asks(35)))) == 35
    llm.close()
    assert fake_openai.completions == 35
    assert clock.now == pytest.approx(10.0)  # 30 at once, then 5 more at 2 s each


@pytest.mark.parametrize("concurrency", [1, 5])
def test_requests_in_flight_never_exceed_concurrency(tmp_path, llm_env, concurrency):
    llm_env.latency = 0.03
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"concurrency": concurrency})
    run_recipe(recipe, tmp_path / "run")
    check_ledger(tmp_path / "run", 60)
    assert llm_env.max_inflight == concurrency  # reached, never passed


def test_a_404_stops_the_run_instead_of_rejecting_records(tmp_path, llm_env):
    llm_env.reply_fn = lambda call: error(404, "The model `fake-model` does not exist", code="model_not_found")
    recipe = write_recipe(tmp_path, llm_env.base_url)
    out = tmp_path / "run"
    with pytest.raises(LLMError, match="check the model name and base_url"):
        run_recipe(recipe, out)
    assert llm_env.completions <= 8 and max(llm_env.hits.values()) == 1
    assert not (out / "respond" / "done.json").exists() and not read_lines(out / "respond" / "rejected.jsonl")


BATCH = {"mode": "batch", "batch_poll": 0.01, "batch_poll_max": 0.02}


def test_batch_polls_back_off_by_half_again_up_to_the_cap(tmp_path, fake_openai):
    fake_openai.batches.script = BatchScript(states=("validating",) + ("in_progress",) * 8 + ("completed",))
    clock = VirtualClock()
    settings = LLMSettings(model="m", base_url=fake_openai.base_url, mode="batch", batch_poll=1.0, batch_poll_max=5.0)
    llm = StageClient("t", settings, fake_openai.base_url, tmp_path, Counter(), sleep=clock)
    assert len(list(llm.run(asks(3)))) == 3
    llm.close()
    assert clock.waits == pytest.approx([1.0, 1.5, 2.25, 3.375, 5.0, 5.0, 5.0, 5.0])


def wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert condition(), "timed out"


def test_a_kill_while_the_batch_is_in_progress_reattaches_to_it(tmp_path, llm_env):
    llm_env.batches.script = BatchScript(states=("validating",) + ("in_progress",) * 60 + ("completed",))
    recipe = write_recipe(tmp_path, llm_env.base_url, llm=BATCH)
    out = tmp_path / "run"
    proc = start_cli(recipe, out)
    wait_for(lambda: llm_env.batches.polls.get("batch_0001", 0) >= 3)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert llm_env.batches.batches["batch_0001"]["status"] == "in_progress"
    run_recipe(recipe, out)
    check_ledger(out, 60)
    assert llm_env.batches.created == 1 and llm_env.batches.uploads == 1
    assert llm_env.batches.batches["batch_0001"]["status"] == "completed"
    assert set(llm_env.hits.values()) == {1} and len(llm_env.hits) == 60


def test_a_crash_during_the_upload_is_reconciled_through_files_list(tmp_path, llm_env):
    llm_env.batches.script = BatchScript(upload_delay=30)  # the file is stored; the answer never arrives
    recipe = write_recipe(tmp_path, llm_env.base_url, llm=BATCH)
    out = tmp_path / "run"
    proc = start_cli(recipe, out)
    wait_for(lambda: llm_env.batches.uploads == 1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert llm_env.batches.created == 0
    llm_env.batches.script = BatchScript()
    run_recipe(recipe, out)
    check_ledger(out, 60)
    assert llm_env.batches.uploads == 1, "the file uploaded before the crash was uploaded again"
    assert llm_env.batches.created == 1 and llm_env.paths["GET /files"] >= 1
    uploaded = next(iter(llm_env.batches.files.values()))
    assert len(uploaded.data.splitlines()) == 60 and json.loads(uploaded.data.splitlines()[0])["custom_id"]
