"""G2: crash and resume (reliability.md 9-18) with a `respond` stage: exactly once, nothing paid twice."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.errors import InputError, LLMError, LockError
from tests.conftest import ROOT
from tests.fake_openai import error, ok
from tests.llm.conftest import (CANARY_KEY, OPEN_60, check_ledger, read_lines, run_recipe, stats,
                                write_recipe)


def start_cli(recipe: Path, out: Path, limit_bytes: int | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENAI_API_KEY=CANARY_KEY)

    def limit():  # a fault-injected write: files may not grow past limit_bytes (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(recipe), "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limit if limit_bytes else None)


def signal_at(proc: subprocess.Popen, server, hits: int, sig: int = signal.SIGKILL) -> tuple[int, str]:
    """Send `sig` once the server has seen `hits` completions; return (exit code, stderr)."""
    deadline = time.monotonic() + 60
    while server.completions < hits and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    if proc.poll() is None:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def expected_ids(tmp_path: Path, server) -> set[str]:
    recipe = write_recipe(tmp_path / "ref", server.base_url) if (tmp_path / "ref").mkdir() is None else None
    run_recipe(recipe, tmp_path / "ref" / "run")
    server.reset_counts()
    return {r["id"] for r in read_lines(tmp_path / "ref" / "run" / "respond" / "data.jsonl")}


def assert_exactly_once(out: Path, server, want: set[str], concurrency: int) -> None:
    ok_rows, rejected = check_ledger(out, 60)
    assert not rejected and {r["id"] for r in ok_rows} == want
    assert stats(out)["records_out"] == 60 and (out / "respond" / "done.json").exists()
    assert max(server.hits.values()) <= 2
    assert sum(1 for v in server.hits.values() if v == 2) <= concurrency
    assert len(server.hits) == 60


@pytest.mark.parametrize("kill_at", [1, 12, 30, 47, 59])
def test_sigkill_during_generation_then_resume_is_exactly_once(tmp_path, llm_env, kill_at):
    want = expected_ids(tmp_path, llm_env)
    llm_env.latency = 0.02
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"concurrency": 4})
    out = tmp_path / "run"
    code, _ = signal_at(start_cli(recipe, out), llm_env, kill_at)
    assert code == -signal.SIGKILL
    before = dict(llm_env.hits)
    assert not (out / "respond" / "done.json").exists()
    run_recipe(recipe, out)
    assert_exactly_once(out, llm_env, want, concurrency=4)
    assert stats(out)["requests"] == sum(llm_env.hits.values()) - sum(before.values())


@pytest.mark.parametrize("sig, code, word", [(signal.SIGTERM, 143, "terminated"),
                                             (signal.SIGINT, 130, "interrupted")])
def test_sigterm_and_sigint_stop_gracefully_and_resume(tmp_path, llm_env, sig, code, word):
    want = expected_ids(tmp_path, llm_env)
    llm_env.latency = 0.02
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"concurrency": 4})
    out = tmp_path / "run"
    got, err = signal_at(start_cli(recipe, out), llm_env, 20, sig)
    assert got == code and f"{word}: run the same command again to resume" in err
    assert json.loads((out / "respond" / "stats.json").read_text())["state"] == "partial"
    run_recipe(recipe, out)
    assert_exactly_once(out, llm_env, want, concurrency=4)


def interrupted_run(tmp_path: Path, server) -> tuple[Path, Path]:
    """A respond stage stopped by a quota error after most records were written."""
    stop = "Are lilies safe for cats?"
    server.reply_fn = lambda call: (error(429, "quota", code="insufficient_quota") if stop in call.last_user
                                    else ok("answer")(call))
    recipe = write_recipe(tmp_path, server.base_url, llm={"concurrency": 1})
    out = tmp_path / "run"
    with pytest.raises(LLMError):
        run_recipe(recipe, out)
    server.reply_fn = ok("answer")
    return recipe, out


def test_torn_last_line_is_cut_and_that_record_rewritten_from_the_cache(tmp_path, llm_env, caplog):
    recipe, out = interrupted_run(tmp_path, llm_env)
    data = out / "respond" / "data.jsonl"
    lines = data.read_bytes().splitlines(keepends=True)
    torn = lines[-1][:40]
    data.write_bytes(b"".join(lines[:-1]) + torn)
    hits = sum(llm_env.hits.values())
    with caplog.at_level(logging.WARNING):
        run_recipe(recipe, out)
    assert f"dropped {len(torn)} bytes (partial record)" in caplog.text
    check_ledger(out, 60)
    assert sum(llm_env.hits.values()) - hits == 60 - len(lines)
    assert max(llm_env.hits.values()) <= 2 and stats(out)["cached"] == len(lines)


def test_corrupt_interior_line_refuses_to_resume_without_sending_anything(tmp_path, llm_env):
    recipe, out = interrupted_run(tmp_path, llm_env)
    data = out / "respond" / "data.jsonl"
    lines = data.read_text().splitlines(keepends=True)
    lines[1] = "garbage{\n"
    data.write_text("".join(lines))
    hits = sum(llm_env.hits.values())
    with pytest.raises(InputError, match=r"data\.jsonl:2:1: .*corrupt inside"):
        run_recipe(recipe, out)
    assert sum(llm_env.hits.values()) == hits


def test_stale_manifest_tmp_is_ignored_and_the_run_resumes(tmp_path, llm_env):
    recipe, out = interrupted_run(tmp_path, llm_env)
    manifest = (out / "manifest.json").read_bytes()
    (out / "manifest.json.tmp").write_text('{"torn": ')
    assert json.loads(manifest)["stages"]["respond"]["state"] != "done"
    run_recipe(recipe, out)
    check_ledger(out, 60)
    assert json.loads((out / "manifest.json").read_text())["stages"]["respond"]["state"] == "done"


def test_rerun_of_a_finished_run_sends_nothing_and_changes_no_byte(tmp_path, llm_env, capfd):
    recipe = write_recipe(tmp_path, llm_env.base_url)
    out = tmp_path / "run"
    run_recipe(recipe, out)
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file()}
    hits = sum(llm_env.hits.values())
    assert run_recipe(recipe, out) == {"in1": "skipped", "respond": "skipped"}
    assert "nothing to do" in capfd.readouterr().err
    assert sum(llm_env.hits.values()) == hits
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file()} == digest


def test_input_identity_is_its_content_not_its_name(tmp_path, llm_env):
    first = tmp_path / "a.jsonl"
    first.write_bytes(OPEN_60.read_bytes())
    recipe = write_recipe(tmp_path, llm_env.base_url, inputs=(first,))
    out = tmp_path / "run"
    run_recipe(recipe, out)
    renamed = tmp_path / "b.jsonl"
    first.rename(renamed)
    recipe = write_recipe(tmp_path, llm_env.base_url, inputs=(renamed,))
    assert run_recipe(recipe, out) == {"in1": "skipped", "respond": "skipped"}
    lines = renamed.read_text().splitlines(keepends=True)
    lines[0] = json.dumps({"messages": [{"role": "user", "content": "A brand new question?"}]}) + "\n"
    renamed.write_text("".join(lines))
    hits = sum(llm_env.hits.values())
    run_recipe(recipe, out)
    check_ledger(out, 60)
    assert sum(llm_env.hits.values()) - hits == 1 and stats(out)["cached"] == 59


def test_a_second_run_on_the_same_folder_is_refused(tmp_path, llm_env):
    llm_env.latency = 0.2
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"concurrency": 2})
    out = tmp_path / "run"
    proc = start_cli(recipe, out)
    deadline = time.monotonic() + 30
    while llm_env.completions < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(LockError, match=rf"locked by pid {proc.pid}"):
        run_recipe(recipe, out)
    proc.kill()
    proc.communicate()


def test_a_failed_write_aborts_naming_the_path_and_resume_loses_nothing(tmp_path, llm_env):
    want = expected_ids(tmp_path, llm_env)
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"concurrency": 4})
    out = tmp_path / "run"
    proc = start_cli(recipe, out, limit_bytes=4096)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "File too large" in err and ("data.jsonl" in err or "llm.sqlite" in err or "rejected" in err)
    run_recipe(recipe, out)
    assert_exactly_once(out, llm_env, want, concurrency=4)
