"""Issue 15 item 1: a stage whose outcome per input changed between attempts resumes to an exact
ledger; `--force ID` starts it from scratch without paying again; `--no-cache ID` re-samples."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pipeline.errors import LLMError
from tests.conftest import cli
from tests.fake_openai import FakeCall, FakeReply, error, ok
from tests.llm.conftest import CANARY_KEY, check_ledger, read_lines, run_recipe, stats, write_recipe

N = 500


def open_records(path: Path, n: int = N) -> Path:
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(json.dumps({"messages": [{"role": "user", "content": f"Question number {i}?"}]}) + "\n")
    return path


def bucket(call: FakeCall) -> int:
    return int(hashlib.sha256(call.last_user.encode()).hexdigest(), 16) % 100


class Flaky:
    """~15% of requests refused for good (400 invalid_prompt), ~5% failing (500); the rest answered.
    Remembers which request keys got an answer."""

    def __init__(self):
        self.answered: set[str] = set()
        self.healed = False

    def __call__(self, call: FakeCall) -> FakeReply:
        b = bucket(call)
        if not self.healed and b < 15:
            return error(400, "invalid prompt", code="invalid_prompt")
        if not self.healed and b < 20:
            return error(500, "server error", type_="server_error")
        self.answered.add(call.key)
        return ok(f"answer to {call.last_user}")(call)


def first_attempt(tmp_path: Path, server) -> tuple[Path, Path, Flaky]:
    data = open_records(tmp_path / "open.jsonl")
    server.reply_fn = flaky = Flaky()
    recipe = write_recipe(tmp_path, server.base_url, inputs=(data,),
                          llm={"max_retries": 1, "max_wait": 0.01, "concurrency": 8})
    text = recipe.read_text().replace("id: respond", "id: answer")
    recipe.write_text(text.replace("- respond\n", "- answer\n"))
    out = tmp_path / "run"
    with pytest.raises(LLMError, match="requests got no answer"):
        run_recipe(recipe, out)
    rejected = read_lines(out / "answer" / "rejected.jsonl")
    assert rejected and all(r["reason"] == "llm_error" for r in rejected)
    # requests that got no answer hold back none of the records after them (input order kept)
    assert len(read_lines(out / "answer" / "data.jsonl")) == len(flaky.answered)
    flaky.healed = True
    return recipe, out, flaky


def paid_again(server, answered: set[str], before: dict) -> list[str]:
    return [k for k in answered if server.hits[k] > before.get(k, 0)]


def test_rejections_that_later_succeed_resume_to_every_input_answered(tmp_path, llm_env):
    recipe, out, flaky = first_attempt(tmp_path, llm_env)
    answered, before = set(flaky.answered), dict(llm_env.hits)
    run_recipe(recipe, out)
    ok_rows, rejected = check_ledger(out, N, stage="answer")
    assert len(ok_rows) == N and not rejected
    s = stats(out, "answer")
    assert s["records_in"] == N and s["records_out"] == N and s["rejected"] == 0
    assert s["cached"] == len(answered)
    assert paid_again(llm_env, answered, before) == []
    assert (out / "answer" / "done.json").exists()


def test_answers_that_become_rejections_resume_to_an_exact_ledger(tmp_path, llm_env):
    recipe, out, flaky = first_attempt(tmp_path, llm_env)
    # the next attempt: the requests that had failed are now refused for good, the others answered
    llm_env.reply_fn = lambda call: (error(400, "invalid prompt", code="invalid_prompt") if bucket(call) < 20
                                     else ok(f"answer to {call.last_user}")(call))
    before = dict(llm_env.hits)
    run_recipe(recipe, out)
    ok_rows, rejected = check_ledger(out, N, stage="answer")
    assert len(rejected) == sum(1 for i in range(N) if int(hashlib.sha256(
        f"Question number {i}?".encode()).hexdigest(), 16) % 100 < 20)
    assert stats(out, "answer")["rejected"] == len(rejected)
    assert paid_again(llm_env, flaky.answered, before) == []


def test_force_starts_the_stage_from_scratch_and_pays_nothing_again(tmp_path, llm_env):
    recipe, out, flaky = first_attempt(tmp_path, llm_env)
    (out / "answer" / "leftover.txt").write_text("from an earlier attempt")
    answered, before = set(flaky.answered), dict(llm_env.hits)
    proc = cli("run", str(recipe), "--out", str(out), "--force", "answer",
               env={"OPENAI_API_KEY": CANARY_KEY})
    assert proc.returncode == 0, proc.stderr
    assert "resuming" not in proc.stderr and "from scratch" in proc.stderr
    assert not (out / "answer" / "leftover.txt").exists()
    ok_rows, rejected = check_ledger(out, N, stage="answer")
    assert len(ok_rows) == N and not rejected
    assert paid_again(llm_env, answered, before) == []


def test_no_cache_resamples_every_request_once_and_an_interrupted_resample_resumes(tmp_path, llm_env):
    llm_env.reply_fn = ok("first sample")
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"concurrency": 2})
    out = tmp_path / "run"
    run_recipe(recipe, out)
    assert {r["messages"][-1]["content"] for r in read_lines(out / "respond" / "data.jsonl")} == {"first sample"}
    stop = "Are lilies safe for cats?"  # the re-sampling stops at a quota error half way
    llm_env.reply_fn = lambda call: (error(429, "quota", code="insufficient_quota") if stop in call.last_user
                                     else ok("second sample")(call))
    with pytest.raises(LLMError):
        run_recipe(recipe, out, no_cache=("respond",))
    assert 0 < sum(1 for v in llm_env.hits.values() if v == 2) < 60
    llm_env.reply_fn = ok("second sample")
    assert run_recipe(recipe, out) == {"in1": "skipped", "respond": "ran"}  # resumes the re-sampling
    rows, _ = check_ledger(out, 60)
    assert {r["messages"][-1]["content"] for r in rows} == {"second sample"}
    refused = {c.key for c in llm_env.calls if stop in c.last_user}
    assert len(refused) == 1 and llm_env.hits[next(iter(refused))] == 3  # answered, quota, answered
    assert len(llm_env.hits) == 60 and all(v == 2 for k, v in llm_env.hits.items() if k not in refused)
    hits = dict(llm_env.hits)
    assert run_recipe(recipe, out) == {"in1": "skipped", "respond": "skipped"}
    run_recipe(recipe, out, force=("respond",))  # --force replays the new samples, pays nothing
    assert dict(llm_env.hits) == hits
    assert {r["messages"][-1]["content"] for r in read_lines(out / "respond" / "data.jsonl")} == {"second sample"}
