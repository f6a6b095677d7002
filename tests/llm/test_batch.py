"""G3: batch mode (reliability.md 19-24) through a `respond` stage on the fake Batch API."""

from __future__ import annotations

import json
import random
import signal
import time

import pytest

from pipeline.errors import LLMError
from pipeline.llm.batch_files import build_shards
from pipeline.llm.canonical import prepare
from pipeline.llm.settings import LLMSettings
from pipeline.llm.types import Request
from tests.fake_batches import BatchScript
from tests.fake_openai import error, ok
from tests.llm.conftest import check_ledger, read_lines, run_recipe, stats, write_recipe
from tests.llm.test_crash_resume import start_cli

BATCH = {"mode": "batch", "batch_poll": 0.01, "batch_poll_max": 0.05}


def batch_recipe(tmp_path, server, **llm):
    return write_recipe(tmp_path, server.base_url, llm={**BATCH, **llm})


def test_a_batch_stage_answers_every_record_once(tmp_path, llm_env):
    recipe = batch_recipe(tmp_path, llm_env, batch_max_requests=25)
    out = tmp_path / "run"
    run_recipe(recipe, out)
    ok_rows, _ = check_ledger(out, 60)
    assert len(ok_rows) == 60 and llm_env.batches.created == 3 and llm_env.batches.uploads == 3
    assert set(llm_env.hits.values()) == {1} and len(llm_env.hits) == 60
    assert stats(out)["requests"] == 60 and stats(out)["batches"] == 3
    hits = sum(llm_env.hits.values())
    run_recipe(recipe, out, force=("respond",))
    assert sum(llm_env.hits.values()) == hits and llm_env.batches.created == 3


def test_crash_while_batches_create_is_in_flight_reattaches_without_a_second_batch(tmp_path, llm_env):
    llm_env.batches.script = BatchScript(create_delay=1.5)
    recipe = batch_recipe(tmp_path, llm_env)
    out = tmp_path / "run"
    proc = start_cli(recipe, out)
    deadline = time.monotonic() + 60
    while llm_env.batches.created < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    llm_env.batches.script = BatchScript()
    run_recipe(recipe, out)
    check_ledger(out, 60)
    assert llm_env.batches.created == 1 and llm_env.batches.uploads == 1
    assert set(llm_env.hits.values()) == {1}


def test_a_timed_out_create_is_reconciled_through_batches_list(tmp_path, llm_env):
    llm_env.batches.script = BatchScript(create_delay=1.0)
    recipe = batch_recipe(tmp_path, llm_env, timeout=0.3)
    out = tmp_path / "run"
    run_recipe(recipe, out)
    check_ledger(out, 60)
    assert llm_env.batches.created == 1 and llm_env.paths["GET /batches"] >= 1


def test_expired_batch_keeps_its_output_and_requeues_the_rest_once(tmp_path, llm_env):
    llm_env.batches.scripts = [BatchScript(states=("validating", "in_progress", "expired"), answered=35),
                               BatchScript(states=("in_progress", "expired"), answered=0)]
    recipe = batch_recipe(tmp_path, llm_env)
    out = tmp_path / "run"
    run_recipe(recipe, out)
    ok_rows, rejected = check_ledger(out, 60)
    assert len(ok_rows) == 35 and len(rejected) == 25 and llm_env.batches.created == 2
    assert all(r["reason"] == "llm_error" and "batch_expired" in r["detail"] for r in rejected)
    assert stats(out)["batch_requeued"] == 25
    second = llm_env.batches.batches["batch_0002"]
    assert len(llm_env.batches.files[second["input_file_id"]].data.splitlines()) == 25
    run_recipe(recipe, out, force=("respond",))
    assert llm_env.batches.created == 2, "requeued once only, also across runs"


def test_validation_failure_names_the_input_file_and_line_and_marks_nothing_done(tmp_path, llm_env):
    llm_env.batches.script = BatchScript(states=("validating", "failed"), validation_errors=[
        {"code": "invalid_request", "line": 17, "message": "Model 'x' not supported", "param": "body.model"}])
    recipe = batch_recipe(tmp_path, llm_env)
    out = tmp_path / "run"
    with pytest.raises(LLMError, match=r"batch_input_001\.jsonl:17: Model 'x' not supported"):
        run_recipe(recipe, out)
    assert not (out / "respond" / "done.json").exists()
    assert read_lines(out / "respond" / "data.jsonl") == []


def chaos(out: list[str], err: list[str]) -> tuple[list[str], list[str]]:
    """Shuffle, break one line, empty one body, add an unknown id, duplicate one, turn one into a 400."""
    rows = [json.loads(line) for line in out]
    random.Random(3).shuffle(rows)
    empty, bad400, dup = rows[0], rows[1], rows[2]
    empty["response"]["body"] = {}
    bad400["response"] = {"status_code": 400, "request_id": "r",
                          "body": {"error": {"message": "bad prompt", "code": "invalid_prompt"}}}
    lines = [json.dumps(r) for r in rows]
    lines[3] = lines[3][:25]
    lines.append(json.dumps({**dup, "response": {**dup["response"], "body": {**dup["response"]["body"],
                                                                             "choices": []}}}))
    lines.append(json.dumps({**rows[4], "custom_id": "nobody-asked-for-this"}))
    return lines, err


def test_output_file_chaos_is_joined_by_custom_id_and_each_bad_line_quarantined(tmp_path, llm_env):
    llm_env.batches.scripts = [BatchScript(mangle=chaos), BatchScript()]
    recipe = batch_recipe(tmp_path, llm_env)
    out = tmp_path / "run"
    run_recipe(recipe, out)
    ok_rows, rejected = check_ledger(out, 60)
    assert len(ok_rows) == 59 and [r["detail"] for r in rejected] == ["HTTP 400: bad prompt (invalid_prompt)"]
    quarantine = read_lines(out / "cache" / "batches" / "respond" / "quarantine.jsonl")
    assert sorted(q["reason"] for q in quarantine) == ["duplicate_custom_id", "empty_body", "malformed_line",
                                                      "unknown_custom_id"]
    second = llm_env.batches.batches["batch_0002"]
    assert len(llm_env.batches.files[second["input_file_id"]].data.splitlines()) == 2


def test_shards_stay_within_the_limits_and_oversize_lines_are_refused(tmp_path):
    settings = LLMSettings(model="m")
    preps = [prepare(Request.chat([{"role": "user", "content": f"q{i} " + "x" * (i % 7) * 100}]),
                     settings, "m", "http://h/v1") for i in range(120)]
    huge = prepare(Request.chat([{"role": "user", "content": "y" * 5000}]), settings, "m", "http://h/v1")
    shards, too_big = build_shards(preps + [huge], max_requests=50, max_bytes=4096)
    assert too_big == [huge]
    assert sum(len(s) for s in shards) == 120
    for shard in shards:
        assert len(shard) <= 50 and sum(len(line) for _, line in shard) <= 4096
        lines = [json.loads(line) for _, line in shard]
        assert len({x["custom_id"] for x in lines}) == len(lines)
        assert {x["body"]["model"] for x in lines} == {"m"}
        assert {(x["method"], x["url"]) for x in lines} == {("POST", "/v1/chat/completions")}
    by_count, _ = build_shards(preps, max_requests=50, max_bytes=200_000_000)
    assert [len(s) for s in by_count] == [50, 50, 20]


def test_cancelled_batch_ingests_partial_results_and_polls_with_backoff(tmp_path, llm_env):
    states = ("validating",) + ("in_progress",) * 8 + ("cancelling", "cancelled")
    llm_env.batches.scripts = [BatchScript(states=states, answered=40), BatchScript()]
    recipe = batch_recipe(tmp_path, llm_env, batch_poll=0.01, batch_poll_max=0.08)
    out = tmp_path / "run"
    started = time.monotonic()
    run_recipe(recipe, out)
    check_ledger(out, 60)
    assert llm_env.batches.created == 2 and stats(out)["batch_requeued"] == 20
    assert llm_env.paths["GET /batches/batch_0001"] == len(states) - 1
    backoff = sum(min(0.01 * 1.5 ** i, 0.08) for i in range(len(states) - 2))
    assert time.monotonic() - started >= backoff
    assert set(llm_env.hits.values()) == {1}


def test_batch_status_and_cancel_commands(tmp_path, llm_env, run_cli):
    llm_env.batches.script = BatchScript(states=("validating",) + ("in_progress",) * 10_000)
    recipe = batch_recipe(tmp_path, llm_env, batch_poll=0.05, batch_poll_max=0.05)
    out = tmp_path / "run"
    proc = start_cli(recipe, out)
    deadline = time.monotonic() + 60
    while not llm_env.batches.batches and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    status = run_cli("batch", "status", str(out))
    assert status.returncode == 0, status.stderr
    assert "respond-001" in status.stdout and "batch_0001" in status.stdout and "in_progress" in status.stdout
    cancel = run_cli("batch", "cancel", str(out))
    assert cancel.returncode == 0 and "batch_0001" in cancel.stdout
    assert llm_env.paths["POST /batches/batch_0001/cancel"] == 1
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
