"""Issue 15 item 21 through the real command line: `--only`, `--force`, `--concurrency`, and the
`failed` state in `status` and `status --json`."""

from __future__ import annotations

import json
import time

from tests.conftest import cli
from tests.fake_openai import echo, error
from tests.llm.conftest import CANARY_KEY, write_recipe

ENV = {"OPENAI_API_KEY": CANARY_KEY}


def ran(proc) -> list[str]:
    assert proc.returncode == 0, proc.stderr
    return [line[1:].split("]")[0] for line in proc.stderr.splitlines() if line.endswith(": running")]


def test_only_and_force_through_the_cli(tmp_path, llm_env):
    recipe = write_recipe(tmp_path, llm_env.base_url)
    out = str(tmp_path / "run")
    refused = cli("run", str(recipe), "--out", out, "--only", "respond", env=ENV)
    assert refused.returncode == 1 and "needs 'in1', which is not done" in refused.stderr
    assert ran(cli("run", str(recipe), "--out", out, "--only", "in1", env=ENV)) == ["in1"]
    assert ran(cli("run", str(recipe), "--out", out, "--only", "respond", env=ENV)) == ["respond"]
    sent = llm_env.completions
    assert sent == 60
    assert ran(cli("run", str(recipe), "--out", out, env=ENV)) == []
    assert ran(cli("run", str(recipe), "--out", out, "--force", "in1", env=ENV)) == ["in1", "respond"]
    assert llm_env.completions == sent  # forced, answered from the cache
    unknown = cli("run", str(recipe), "--out", out, "--force", "nope", env=ENV)
    assert unknown.returncode == 1 and "no stage 'nope'" in unknown.stderr


def test_concurrency_flag_bounds_requests_in_flight_at_the_server(tmp_path, llm_env):
    llm_env.latency = 0.25
    starts: list[float] = []

    def reply(call):
        starts.append(time.monotonic())
        return echo(call)
    llm_env.reply_fn = reply
    recipe = write_recipe(tmp_path, llm_env.base_url, llm={"concurrency": 16})
    proc = cli("run", str(recipe), "--out", str(tmp_path / "run"), "--concurrency", "3", env=ENV)
    assert ran(proc) == ["in1", "respond"]
    # each request is held 0.25 s: with at most 3 in flight, no 0.2 s window sees more than 3 start
    assert len(starts) == 60
    most = max(sum(1 for t in starts if s <= t < s + 0.2) for s in starts)
    assert most == 3


def test_a_failed_stage_shows_as_failed_in_status_and_status_json(tmp_path, llm_env):
    llm_env.reply_fn = lambda call: error(401, "bad key", code="invalid_api_key")
    recipe = write_recipe(tmp_path, llm_env.base_url)
    out = str(tmp_path / "run")
    proc = cli("run", str(recipe), "--out", out, env=ENV)
    assert proc.returncode == 1
    table = cli("status", out)
    assert table.returncode == 0
    row = next(line for line in table.stdout.splitlines() if line.startswith("respond"))
    assert row.split()[2] == "failed"
    rows = {r["id"]: r for r in json.loads(cli("status", out, "--json").stdout)}
    assert rows["respond"]["state"] == "failed" and "401" in rows["respond"]["error"]
    assert rows["in1"]["state"] == "done"
