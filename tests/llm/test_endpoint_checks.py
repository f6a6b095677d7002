"""Issue 15 item 17: an endpoint that is down or refuses the key is reported at once, in one line,
before the first stage runs; a stage whose connections are all refused stops instead of retrying."""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter

import pytest

from pipeline.errors import LLMError
from pipeline.llm.client import StageClient
from pipeline.llm.settings import LLMSettings
from pipeline.llm.types import Request
from tests.conftest import cli
from tests.fake_openai import error, ok, per_attempt, reset
from tests.llm.conftest import CANARY_KEY, write_recipe
from tests.llm.test_api_faults import FakeClock


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def asks(n: int) -> list[Request]:
    return [Request.chat([{"role": "user", "content": f"question {i}"}]) for i in range(n)]


def retry_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]


def test_refused_connections_stop_the_stage_after_a_few_attempts(tmp_path, caplog):
    url = closed_port_url()
    settings = LLMSettings(model="m", base_url=url, concurrency=8, max_retries=6, max_wait=60)
    llm = StageClient("answers", settings, url, tmp_path, Counter(), sleep=FakeClock())
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="pipeline.llm"), pytest.raises(LLMError) as info:
        list(llm.run(asks(40)))
    llm.close()
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert f"cannot connect to {url}" in message and "connection refused 3 times in a row" in message
    assert len(retry_lines(caplog)) <= 2  # was 40 x 6 retries


def test_retry_lines_always_say_what_happened(tmp_path, fake_openai, caplog):
    fake_openai.reply_fn = per_attempt(reset(), error(502, ""), ok("fine"))
    settings = LLMSettings(model="m", base_url=fake_openai.base_url, concurrency=2, max_retries=3)
    llm = StageClient("answers", settings, fake_openai.base_url, tmp_path, Counter(), sleep=FakeClock())
    with caplog.at_level(logging.WARNING, logger="pipeline.llm"):
        assert [r.text for r in llm.run(asks(2))] == ["fine", "fine"]
    llm.close()
    lines = retry_lines(caplog)
    assert len(lines) == 4
    for line in lines:
        assert "connection error:  " not in line and "x-request-id -" not in line
    resets = [line for line in lines if "connection error" in line]
    assert len(resets) == 2 and all(len(line.split("connection error: ")[1].split(";")[0]) > 5 for line in resets)


def test_an_endpoint_that_is_down_fails_before_the_first_stage_in_one_line(tmp_path):
    url = closed_port_url()
    recipe = write_recipe(tmp_path, url, llm={"max_retries": 6})
    out = tmp_path / "run"
    started = time.monotonic()
    proc = cli("run", str(recipe), "--out", str(out), env={"OPENAI_API_KEY": CANARY_KEY})
    assert proc.returncode == 1
    assert time.monotonic() - started < 15
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith("error: [respond] before the run: cannot connect to " + url)
    assert not (out / "in1" / "done.json").exists(), "the upstream stage ran before the check"


def test_a_refused_key_fails_before_the_first_stage(tmp_path, fake_openai):
    fake_openai.models_fn = lambda call: error(401, "Incorrect API key provided")
    recipe = write_recipe(tmp_path, fake_openai.base_url)
    out = tmp_path / "run"
    proc = cli("run", str(recipe), "--out", str(out), env={"OPENAI_API_KEY": CANARY_KEY})
    assert proc.returncode == 1
    assert "refused the API key from $OPENAI_API_KEY" in proc.stderr and CANARY_KEY not in proc.stderr
    assert not (out / "in1" / "done.json").exists() and fake_openai.completions == 0
    assert fake_openai.paths["GET /models"] == 1


def test_the_check_runs_once_per_endpoint_and_tolerates_servers_without_models(tmp_path, fake_openai):
    fake_openai.models_fn = lambda call: error(404, "no such route")
    recipe = write_recipe(tmp_path, fake_openai.base_url)
    text = recipe.read_text().replace("- id: respond", "- id: respond2\n  op: respond\n  inputs: [in1]\n- id: respond")
    recipe.write_text(text)
    proc = cli("run", str(recipe), "--out", str(tmp_path / "run"), env={"OPENAI_API_KEY": CANARY_KEY})
    assert proc.returncode == 0, proc.stderr
    assert fake_openai.paths["GET /models"] == 1 and fake_openai.completions == 60  # the second stage reads the cache
    proc = cli("run", str(recipe), "--out", str(tmp_path / "run"), env={"OPENAI_API_KEY": CANARY_KEY})
    assert proc.returncode == 0 and fake_openai.paths["GET /models"] == 1, "nothing left to run: no check"


def test_a_key_that_may_not_list_models_still_runs(tmp_path, fake_openai):
    """A restricted key gets 403 on GET /models yet may complete: the check does not stop the run."""
    fake_openai.models_fn = lambda call: error(403, "missing scope: models.read")
    recipe = write_recipe(tmp_path, fake_openai.base_url)
    proc = cli("run", str(recipe), "--out", str(tmp_path / "run"), env={"OPENAI_API_KEY": CANARY_KEY})
    assert proc.returncode == 0, proc.stderr
    assert fake_openai.completions == 60
