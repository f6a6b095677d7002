"""G1: API faults (reliability.md 1-8): retry, backoff, fail fast, and the ledger after each."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

import pytest

from pipeline.errors import LLMError
from pipeline.llm.client import StageClient
from pipeline.llm.ratelimit import RateLimiter, parse_duration
from pipeline.llm.retry import retry_after
from pipeline.llm.settings import LLMSettings
from pipeline.llm.types import Request
from tests.conftest import cli
from tests.fake_openai import error, hang, ok, per_attempt, raw, reset
from tests.llm.conftest import CANARY_KEY, check_ledger, read_lines, run_recipe, stats, write_recipe


class FakeClock:
    """An injected sleep that records the waits and returns at once."""

    def __init__(self):
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def client(tmp_path, server, clock=None, **kw) -> StageClient:
    settings = LLMSettings(**{"model": "fake-model", "base_url": server.base_url, "concurrency": 4,
                              "max_retries": 3, "max_wait": 60, **kw})
    return StageClient("t", settings, server.base_url, tmp_path, Counter(), sleep=clock)


def asks(n: int) -> list[Request]:
    return [Request.chat([{"role": "user", "content": f"question {i}"}]) for i in range(n)]


def test_429_with_retry_after_is_retried_once_after_that_wait(tmp_path, fake_openai, caplog):
    fake_openai.reply_fn = per_attempt(error(429, "slow down", headers={"retry-after": "3"}), ok("fine"))
    clock = FakeClock()
    llm = client(tmp_path, fake_openai, clock)
    with caplog.at_level(logging.WARNING, logger="pipeline.llm"):
        replies = list(llm.run(asks(1)))
    llm.close()
    assert [r.text for r in replies] == ["fine"]
    assert list(fake_openai.hits.values()) == [2]
    assert clock.waits == [3.0]
    retry_lines = [r.getMessage() for r in caplog.records if "retry 1 of 3" in r.getMessage()]
    assert len(retry_lines) == 1 and "x-request-id req_fake" in retry_lines[0]
    assert llm.counters["retries"] == 1 and llm.counters["requests"] == 1


def test_retry_after_above_the_cap_waits_the_cap_then_gives_up_resumably(tmp_path, fake_openai):
    fake_openai.reply_fn = lambda call: error(429, "later", headers={"retry-after": "600"})
    clock = FakeClock()
    llm = client(tmp_path, fake_openai, clock, max_retries=2, max_wait=5)
    with pytest.raises(LLMError, match="rate_limited"):
        list(llm.run(asks(2)))
    llm.close()
    assert clock.waits == [5.0] * 4
    assert sorted(fake_openai.hits.values()) == [3, 3]
    fake_openai.reply_fn = ok("now")
    llm = client(tmp_path, fake_openai, clock)
    assert [r.text for r in llm.run(asks(2))] == ["now", "now"]
    llm.close()
    assert sorted(fake_openai.hits.values()) == [4, 4]


def test_429_with_only_rate_limit_headers_waits_a_bounded_time(tmp_path, fake_openai):
    headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s",
               "x-ratelimit-limit-requests": "500"}
    fake_openai.reply_fn = per_attempt(error(429, "rpm", headers=headers), ok("done"))
    clock = FakeClock()
    llm = client(tmp_path, fake_openai, clock, max_wait=2)
    assert [r.text for r in llm.run(asks(1))] == ["done"]
    llm.close()
    assert clock.waits and max(clock.waits) <= 2.0


def test_insufficient_quota_stops_the_run_at_once_and_a_rerun_resumes(tmp_path, llm_env):
    server, stopped = llm_env, {}
    bad = "Are lilies safe for cats?"

    def reply(call):
        if bad in call.last_user:
            stopped.setdefault("at", time.monotonic())
            return error(429, "You exceeded your current quota", code="insufficient_quota",
                         type_="insufficient_quota")
        return ok("answer", delay=0.05)(call)

    server.reply_fn = reply
    recipe = write_recipe(tmp_path, server.base_url)
    out = tmp_path / "run"
    with pytest.raises(LLMError) as info:
        run_recipe(recipe, out)
    assert time.monotonic() - stopped["at"] < 1.0
    message = str(info.value)
    assert "quota exhausted (insufficient_quota)" in message and "OPENAI_API_KEY" in message
    assert CANARY_KEY not in message
    assert not (out / "respond" / "done.json").exists()
    bad_key = next(k for c in server.calls if bad in c.last_user for k in [c.key])
    assert server.hits[bad_key] == 1
    written = len(read_lines(out / "respond" / "data.jsonl"))
    server.reply_fn = ok("answer")
    run_recipe(recipe, out)
    check_ledger(out, 60)
    assert all(v == 1 for k, v in server.hits.items() if k != bad_key) and server.hits[bad_key] == 2
    assert stats(out)["cached"] == written and stats(out)["requests"] == 60 - written


def test_insufficient_quota_from_the_cli_exits_non_zero_naming_the_variable(tmp_path, fake_openai):
    fake_openai.reply_fn = lambda call: error(429, "quota", code="insufficient_quota")
    recipe = write_recipe(tmp_path, fake_openai.base_url)
    proc = cli("run", str(recipe), "--out", str(tmp_path / "run"), env={"OPENAI_API_KEY": CANARY_KEY})
    assert proc.returncode == 1
    assert "error: quota exhausted (insufficient_quota)" in proc.stderr and "OPENAI_API_KEY" in proc.stderr
    assert CANARY_KEY not in proc.stderr + proc.stdout


def test_transient_errors_twice_then_success_stay_within_the_attempt_budget(tmp_path, llm_env):
    faults = [error(500), error(502), error(503), reset()]
    llm_env.reply_fn = lambda call: per_attempt(faults[call.attempt % 4], faults[(call.attempt + 1) % 4],
                                                ok("recovered"))(call)
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"max_retries": 3})
    out = tmp_path / "run"
    run_recipe(recipe, out)
    ok_rows, _ = check_ledger(out, 60)
    assert {r["messages"][-1]["content"] for r in ok_rows} == {"recovered"}
    assert set(llm_env.hits.values()) == {3}
    assert stats(out)["retries"] == 120 and stats(out)["requests"] == 60


def test_read_timeout_after_processing_is_retried_and_written_once(tmp_path, llm_env):
    slow = "How do I start running?"
    llm_env.reply_fn = lambda call: (hang(1.5, ok("late")(call)) if slow in call.last_user and call.attempt == 1
                                     else ok("on time")(call))
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"timeout": 0.5})
    out = tmp_path / "run"
    run_recipe(recipe, out)
    ok_rows, _ = check_ledger(out, 60)
    answered = [r for r in ok_rows if r["messages"][0]["content"] == slow]
    assert len(answered) == 1 and answered[0]["messages"][-1]["content"] == "on time"
    assert sorted(llm_env.hits.values())[-1] == 2 and sum(llm_env.hits.values()) == 61


def test_400_rejects_only_that_record_without_retry(tmp_path, llm_env):
    long_one = "How do I start running?"
    llm_env.reply_fn = lambda call: (error(400, "maximum context length is 8192 tokens",
                                           code="context_length_exceeded")
                                     if long_one in call.last_user else ok("fine")(call))
    recipe = write_recipe(tmp_path, llm_env.base_url)
    out = tmp_path / "run"
    run_recipe(recipe, out)
    ok_rows, rejected = check_ledger(out, 60)
    assert len(ok_rows) == 59 and len(rejected) == 1
    assert rejected[0]["reason"] == "llm_error" and "context_length_exceeded" in rejected[0]["detail"]
    assert max(llm_env.hits.values()) == 1
    assert stats(out)["dropped_llm_error"] == 1 and (out / "respond" / "done.json").exists()


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_stop_the_run_naming_the_variable_never_the_key(tmp_path, llm_env, status):
    llm_env.reply_fn = lambda call: error(status, f"Incorrect API key provided: {CANARY_KEY[:12]}...")
    recipe = write_recipe(tmp_path, llm_env.base_url)
    out = tmp_path / "run"
    with pytest.raises(LLMError) as info:
        run_recipe(recipe, out)
    assert "OPENAI_API_KEY" in str(info.value) and "sk-canary" not in str(info.value)
    assert not (out / "respond" / "done.json").exists()
    assert llm_env.completions <= 8 and max(llm_env.hits.values()) == 1


@pytest.mark.parametrize("value, seconds", [("6m0s", 360.0), ("1s", 1.0), ("12ms", 0.012), ("1h2m3.5s", 3723.5),
                                            ("20", 20.0), ("-1", None), (None, None), ("garbage", None),
                                            ("", None), ("1x", None), ("nan", None), ("inf", None)])
def test_rate_limit_reset_durations_parse_or_fall_back(value, seconds):
    got = parse_duration(value)
    assert got == pytest.approx(seconds) if seconds is not None else got is None


def test_rate_limit_headers_tighten_and_never_raise():
    limiter = RateLimiter(rpm=1000, tpm=None)
    limiter.observe({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "5",
                     "x-ratelimit-reset-tokens": "garbage", "x-ratelimit-limit-tokens": "-1"})
    assert limiter.requests.capacity == 60 and limiter.requests.level == 5 and limiter.tokens is None
    assert limiter.observe({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "12ms"}) == 0.012
    for junk in ({}, {"x-ratelimit-remaining-requests": "lots"}, {"x-ratelimit-limit-requests": "0"}):
        limiter.observe(junk)


@pytest.mark.parametrize("headers, seconds", [({"retry-after": "3"}, 3.0), ({"retry-after-ms": "250"}, 0.25),
                                              ({"retry-after": "-10"}, None), ({"retry-after": "soon"}, None),
                                              ({}, None)])
def test_retry_after_header_forms(headers, seconds):
    assert retry_after(headers) == seconds


def test_malformed_2xx_bodies_are_retried(tmp_path, fake_openai):
    fake_openai.reply_fn = per_attempt(raw(200, b"<html>proxy error</html>"), raw(200, b'{"choices": []}'),
                                       ok("parsed"))
    clock = FakeClock()
    llm = client(tmp_path, fake_openai, clock)
    assert [r.text for r in llm.run(asks(3))] == ["parsed"] * 3
    llm.close()
    assert set(fake_openai.hits.values()) == {3} and llm.counters["retries_malformed_response"] == 6


def test_the_servers_x_should_retry_header_wins(tmp_path, fake_openai):
    fake_openai.reply_fn = per_attempt(error(500, "do not retry", headers={"x-should-retry": "false"}), ok())
    llm = client(tmp_path, fake_openai, FakeClock())
    with pytest.raises(LLMError, match="1 requests got no answer"):
        list(llm.run(asks(1)))
    llm.close()
    assert list(fake_openai.hits.values()) == [1]


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_stop_even_when_the_server_says_retry(tmp_path, llm_env, status):
    """Issue 15 item 8: `x-should-retry: true` on a 401/403 must not turn it into retries."""
    llm_env.reply_fn = lambda call: error(status, "bad key", headers={"x-should-retry": "true"})
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"max_retries": 3, "concurrency": 8})
    with pytest.raises(LLMError, match="OPENAI_API_KEY"):
        run_recipe(recipe, tmp_path / "run")
    assert llm_env.completions <= 8 and max(llm_env.hits.values()) == 1
