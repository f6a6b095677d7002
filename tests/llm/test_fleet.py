"""Issue 11 item 4: a list of `base_url`s (a vLLM fleet) spreads a stage's requests over several
servers; a server that refuses, resets or answers 5xx is taken out of rotation, and the stage ends
on the others with nothing lost and nothing paid twice. The cache does not care which server
answered, so a fleet, its reordering, a bigger fleet and one of its servers share answers."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from pipeline.errors import LLMError
from pipeline.llm.client import StageClient
from pipeline.llm.settings import LLMSettings
from pipeline.llm.types import Request
from tests.conftest import cli
from tests.fake_openai import FakeOpenAI, echo, error, ok
from tests.llm.conftest import CANARY_KEY, check_ledger, run_recipe, stats, write_recipe
from tests.llm.test_api_faults import FakeClock
from tests.llm.test_endpoint_checks import closed_port_url

ENV = {"OPENAI_API_KEY": CANARY_KEY}
PASSWORD = "fleet-canary-pw-8c1d"


class Paid:
    """A reply function that counts the answers a server gave (200s), per request key."""

    def __init__(self, server: FakeOpenAI, inner=echo):
        self.server, self.inner, self.answers = server, inner, Counter()
        self.lock = threading.Lock()
        server.reply_fn = self

    def __call__(self, call):
        reply = self.inner(call)
        if reply.status == 200 and reply.action == "send":
            with self.lock:
                self.answers[call.key] += 1
        return reply

    @property
    def total(self) -> int:
        return sum(self.answers.values())


@pytest.fixture
def servers():
    started: list[FakeOpenAI] = []

    def make(n: int, latency: float = 0.0) -> list[FakeOpenAI]:
        new = [FakeOpenAI(latency=latency).start() for _ in range(n)]
        started.extend(new)
        return new

    yield make
    for server in started:
        server.stop()


def questions(path: Path, n: int = 200) -> Path:
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(json.dumps({"messages": [{"role": "user", "content": f"Question number {i}?"}]}) + "\n")
    return path


def fleet_recipe(folder: Path, urls, n: int = 200, **llm) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = questions(folder / "questions.jsonl", n)
    return write_recipe(folder, urls, inputs=(data,), llm={"concurrency": 8, **llm})


def counters(out: Path) -> dict:
    """stats.json without the timing and the fingerprint (a fleet's servers do not enter it, one
    server does: a change of endpoint may change the answers)."""
    return {k: v for k, v in stats(out).items() if k not in ("seconds", "fingerprint")}


def test_a_fleet_spreads_requests_fairly_and_writes_what_one_server_writes(tmp_path, servers):
    fleet = servers(3, latency=0.01)
    paid = [Paid(s) for s in fleet]
    out = tmp_path / "fleet"
    run_recipe(fleet_recipe(tmp_path / "a", [s.base_url for s in fleet]), out)
    check_ledger(out, 200)
    shares = [p.total for p in paid]
    assert sum(shares) == 200 and all(40 <= n <= 95 for n in shares), shares
    answered = Counter()
    for p in paid:
        answered.update(p.answers)
    assert len(answered) == 200 and set(answered.values()) == {1}, "a request was paid twice"

    single = tmp_path / "single"
    run_recipe(fleet_recipe(tmp_path / "b", fleet[0].base_url), single)
    assert (out / "respond" / "data.jsonl").read_bytes() == (single / "respond" / "data.jsonl").read_bytes()
    assert counters(out) == counters(single)


def die_after(server: FakeOpenAI, paid: Paid, answers: int, how: str) -> threading.Thread | None:
    """Make `server` fail once it has given `answers` answers: 500s, or stopped (refuses, resets)."""
    if how == "500":
        def fail(call):
            return error(500, "engine crashed") if paid.total >= answers else echo(call)
        paid.inner = fail
        return None

    def watch():
        while paid.total < answers:
            time.sleep(0.002)
        server.stop()
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("how", ["500", "stop"])
def test_servers_that_refuse_or_die_are_taken_out_and_nothing_is_lost(tmp_path, servers, how):
    dying, healthy = servers(2, latency=0.01)
    paid_dying, paid_healthy = Paid(dying), Paid(healthy)
    down = closed_port_url()
    secret_down = down.replace("http://", f"http://fleet-user:{PASSWORD}@")
    watcher = die_after(dying, paid_dying, 30, how)
    out = tmp_path / "run"
    recipe = fleet_recipe(tmp_path, [secret_down, dying.base_url, healthy.base_url])
    proc = cli("run", str(recipe), "--out", str(out), env=ENV)
    if watcher is not None:
        watcher.join(5)
    assert proc.returncode == 0, proc.stderr
    check_ledger(out, 200)
    assert paid_dying.total >= 30 and paid_healthy.total >= 100
    answered = paid_dying.answers + paid_healthy.answers
    assert len(answered) == 200
    assert sum(answered.values()) - 200 <= 8, "paid twice beyond the requests in flight"
    assert stats(out)["requests"] == 200 and stats(out).get("failures", 0) == 0
    taken_out = [line for line in proc.stderr.splitlines() if "out of rotation" in line]
    assert any(down in line for line in taken_out), proc.stderr
    assert any(dying.base_url in line for line in taken_out), proc.stderr
    assert PASSWORD not in proc.stderr and "fleet-user" not in proc.stderr


def test_a_slow_server_gets_fewer_requests_than_a_fast_one(tmp_path, servers):
    slow, = servers(1, latency=0.2)
    fast, = servers(1, latency=0.01)
    paid_slow, paid_fast = Paid(slow), Paid(fast)
    out = tmp_path / "run"
    run_recipe(fleet_recipe(tmp_path, [slow.base_url, fast.base_url], n=160), out)
    check_ledger(out, 160)
    assert paid_slow.total + paid_fast.total == 160
    assert paid_fast.total > 3 * paid_slow.total, (paid_slow.total, paid_fast.total)


def test_when_every_server_is_down_the_run_stops_at_once_naming_them(tmp_path):
    urls = [closed_port_url() for _ in range(3)]
    out = tmp_path / "run"
    started = time.monotonic()
    proc = cli("run", str(fleet_recipe(tmp_path, urls, max_retries=6)), "--out", str(out), env=ENV)
    assert proc.returncode == 1 and time.monotonic() - started < 20
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert "before the run: none of the servers" in errors[0] and "cannot connect to" in errors[0], errors[0]
    assert all(url in errors[0] for url in urls), errors[0]
    assert not (out / "in1" / "done.json").exists(), "the upstream stage ran before the check"


def test_a_stage_whose_servers_all_refuse_stops_naming_all_of_them(tmp_path, caplog):
    urls = [closed_port_url() for _ in range(3)]
    settings = LLMSettings(model="m", base_url=urls, concurrency=8, max_retries=6, max_wait=60)
    llm = StageClient("answers", settings, urls, tmp_path, Counter(), sleep=FakeClock())
    started = time.monotonic()
    asks = [Request.chat([{"role": "user", "content": f"question {i}"}]) for i in range(40)]
    with caplog.at_level(logging.WARNING, logger="pipeline.llm"), pytest.raises(LLMError) as info:
        list(llm.run(asks))
    llm.close()
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "cannot connect to" in message and "connection refused" in message
    assert all(url in message for url in urls), message


def test_the_cache_ignores_the_order_the_size_of_the_fleet_and_who_answered(tmp_path, servers):
    a, b, c = servers(3)
    out = tmp_path / "run"
    recipe = fleet_recipe(tmp_path, [a.base_url, b.base_url], n=60)
    assert run_recipe(recipe, out)["respond"] == "ran"
    first = (out / "respond" / "data.jsonl").read_bytes()
    assert a.completions + b.completions == 60 and a.completions and b.completions
    for urls in ([b.base_url, a.base_url], [c.base_url, b.base_url, a.base_url], b.base_url, a.base_url):
        recipe = fleet_recipe(tmp_path, urls, n=60)
        if not isinstance(urls, str):  # the fleet is not part of the stage's fingerprint
            assert run_recipe(recipe, out)["respond"] == "skipped"
        before = a.completions + b.completions + c.completions
        assert run_recipe(recipe, out, force=("respond",))["respond"] == "ran"
        assert a.completions + b.completions + c.completions == before, urls
        assert (out / "respond" / "data.jsonl").read_bytes() == first
        assert stats(out)["cached"] == 60


def leak_forms(*secrets: str) -> list[bytes]:
    out = []
    for s in secrets:
        out += [s.encode(), base64.b64encode(s.encode()).rstrip(b"=")]
    return out


def test_credentials_in_one_url_reach_no_file_or_stream_and_the_dry_run_shows_the_servers(tmp_path, servers):
    first, second = servers(2)
    secret_url = second.base_url.replace("http://", f"http://fleet-user:{PASSWORD}@")
    recipe = fleet_recipe(tmp_path, [first.base_url, secret_url], n=40)
    out = tmp_path / "run"
    env = dict(ENV, OPENAI_LOG="debug")
    dry = cli("run", str(recipe), "--out", str(out), "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert first.base_url in dry.stderr and second.base_url in dry.stderr, dry.stderr
    assert first.completions + second.completions == 0
    proc = cli("run", str(recipe), "--out", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    assert first.completions and second.completions
    leaks = leak_forms(PASSWORD, "fleet-user", f"fleet-user:{PASSWORD}", CANARY_KEY)
    for path in (p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert not [x for x in leaks if x in data], f"secret found in {path}"
    for text in (dry.stdout, dry.stderr, proc.stdout, proc.stderr):
        assert not [x for x in leaks if x in text.encode()], text[-2000:]


def test_a_fleet_with_two_workers_writes_what_one_process_writes(tmp_path, servers):
    fleet = servers(2, latency=0.005)
    paid = [Paid(s) for s in fleet]
    recipe = fleet_recipe(tmp_path, [s.base_url for s in fleet], n=120)
    recipe.write_text(recipe.read_text().replace("name: llmtest", "name: llmtest\nengine: {shard_size: 30}"))
    proc = cli("run", str(recipe), "--out", str(tmp_path / "two"), "--workers", "2", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert all(p.total > 20 for p in paid) and sum(p.total for p in paid) == 120
    proc = cli("run", str(recipe), "--out", str(tmp_path / "one"), "--base-url", fleet[0].base_url, env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "two" / "respond" / "data.jsonl").read_bytes() == \
        (tmp_path / "one" / "respond" / "data.jsonl").read_bytes()


@pytest.mark.parametrize("block, message", [
    ({"base_url": [], "model": "m"}, "at least one server"),
    ({"base_url": ["http://127.0.0.1:1/v1", "http://127.0.0.1:1/v1/"], "model": "m"}, "twice"),
    ({"base_url": ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"], "model": "m", "mode": "batch"}, "batch"),
])
def test_a_bad_server_list_is_one_clear_error(tmp_path, block, message):
    recipe = fleet_recipe(tmp_path, "http://127.0.0.1:1/v1", n=2)
    text = recipe.read_text().split("stages:")[1]
    recipe.write_text("name: bad\nllm: " + json.dumps(block) + "\nstages:" + text)
    proc = cli("run", str(recipe), "--out", str(tmp_path / "run"), env=ENV)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: ") and message in errors[0], proc.stderr
    assert "base_url" in errors[0]


def test_a_dead_server_costs_no_retry_when_another_one_answers(tmp_path, servers):
    healthy, = servers(1)
    urls = [closed_port_url(), healthy.base_url]
    settings = LLMSettings(model="m", base_url=urls, concurrency=4, max_retries=0)
    llm = StageClient("answers", settings, urls, tmp_path, Counter(), sleep=FakeClock())
    asks = [Request.chat([{"role": "user", "content": f"question {i}"}]) for i in range(20)]
    assert len(list(llm.run(asks))) == 20
    llm.close()
    assert llm.counters["requests"] == 20 and llm.counters["retries"] == 0
    assert healthy.completions == 20


def test_a_server_comes_back_after_its_cool_down_one_request_at_a_time():
    from pipeline.llm.fleet import Fleet
    from pipeline.llm.retry import RETRY, Verdict

    now = [100.0]
    fleet = Fleet("s", ["http://a/v1", "http://b/v1"], clock=lambda: now[0])
    a, b = fleet.servers
    boom = Verdict(RETRY, "server_error", "HTTP 500: boom")
    assert fleet.failed(a, boom) and a.back_at == 0.0, "one 5xx is not enough"
    assert fleet.failed(a, boom) and a.back_at == 130.0
    assert [fleet.pick([]) for _ in range(3)] == [b, b, b]
    now[0] = 131.0
    b.inflight = 5
    assert fleet.pick([]) is a and a.probation
    a.inflight = 1
    assert fleet.pick([]) is b, "on probation: one request at a time until one is answered"
    fleet.failed(a, boom)
    assert a.back_at == 131.0 + 60.0, "the cool-down doubles while it keeps failing"
    now[0] = 200.0
    a.inflight = 0
    fleet.answered(a)
    assert not a.probation and a.outs == 0
    rate_limited = Verdict(RETRY, "rate_limited", "HTTP 429")
    assert not fleet.failed(b, rate_limited) and b.back_at == 0.0, "a 429 is not the server's fault"


def test_answers_re_sampled_by_a_fleet_replace_those_of_its_servers(tmp_path, servers):
    a, b = servers(2)
    served = iter(range(10**6))
    for server in (a, b):
        server.reply_fn = lambda call: ok(f"answer {next(served)}")(call)
    out = tmp_path / "run"
    run_recipe(fleet_recipe(tmp_path, b.base_url, n=30), out)
    alone = (out / "respond" / "data.jsonl").read_bytes()
    run_recipe(fleet_recipe(tmp_path, [a.base_url, b.base_url], n=30), out, no_cache=("respond",))
    resampled = (out / "respond" / "data.jsonl").read_bytes()
    assert a.completions + b.completions == 60 and resampled != alone
    run_recipe(fleet_recipe(tmp_path, b.base_url, n=30), out, force=("respond",))
    assert a.completions + b.completions == 60
    assert (out / "respond" / "data.jsonl").read_bytes() == resampled
