"""G6 40: the secret canary. Through errors, retries, a crash and a batch upload, at debug log level,
neither the API key nor URL credentials reach any file of the run folder or any captured output."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time

from pipeline.llm.secrets import public_url, redact, remember
from tests.conftest import ROOT, cli
from tests.fake_openai import error, hang, ok
from tests.llm.conftest import CANARY_KEY, check_ledger, write_recipe

PASSWORD = "hunter2-canary-pass"


def cli_run(recipe, out, base_url: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(recipe), "--out", str(out),
                             "--base-url", base_url], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_the_key_and_url_credentials_never_leak(tmp_path, fake_openai):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENAI_API_KEY=CANARY_KEY, OPENAI_LOG="debug",
               PYTHONFAULTHANDLER="1")
    secret_url = fake_openai.base_url.replace("http://", f"http://canary-user:{PASSWORD}@")
    outputs: list[bytes] = []
    out = tmp_path / "run"
    stop = "Are lilies safe for cats?"

    def faults(call):  # 500, then a read timeout, then success; one record gets a 401
        if stop in call.last_user:
            return error(401, f"Incorrect API key provided: {CANARY_KEY}")
        if call.attempt == 1:
            return error(500, "boom")
        if call.attempt == 2:
            return hang(1.0, ok("late")(call))
        return ok("fine")(call)

    fake_openai.reply_fn = faults
    recipe = write_recipe(tmp_path, "http://placeholder.invalid/v1", llm={"timeout": 0.3, "concurrency": 4})
    proc = cli_run(recipe, out, secret_url, env)
    outputs.extend(proc.communicate(timeout=120))
    assert proc.returncode == 1 and b"OPENAI_API_KEY" in outputs[1]
    assert b"DEBUG" in outputs[1] and b"retry" in outputs[1], "debug logs and retries were captured"

    fake_openai.reply_fn = ok("fine")
    fake_openai.latency = 0.05
    hits = fake_openai.completions
    proc = cli_run(recipe, out, secret_url, env)
    while fake_openai.completions < hits + 8 and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGABRT)
    outputs.extend(proc.communicate(timeout=60))
    assert proc.returncode == -signal.SIGABRT and b"Fatal Python error" in outputs[-1]

    recipe = write_recipe(tmp_path, "http://placeholder.invalid/v1",
                          llm={"mode": "batch", "batch_poll": 0.01, "batch_poll_max": 0.02})
    proc = cli_run(recipe, out, secret_url, env)
    outputs.extend(proc.communicate(timeout=120))
    assert proc.returncode == 0, outputs[-1].decode()
    assert fake_openai.batches.uploads == 1
    check_ledger(out, 60)

    leaks = [CANARY_KEY.encode(), PASSWORD.encode(), b"canary-user"]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name.startswith("batch_input_") for p in files) and any(p.suffix == ".sqlite" for p in files)
    for path in files:
        data = path.read_bytes()
        assert not [x for x in leaks if x in data], f"secret found in {path}"
    for captured in outputs:
        assert not [x for x in leaks if x in captured], captured.decode(errors="replace")[-2000:]
    uploaded = b"".join(f.data for f in fake_openai.batches.files.values())
    assert not [x for x in leaks if x in uploaded]


def test_redaction_rules():
    text = f"key {CANARY_KEY} at https://u:{PASSWORD}@host/v1 with Authorization: Bearer abc.def"
    clean = redact(text)
    assert CANARY_KEY not in clean and PASSWORD not in clean and "abc.def" not in clean
    assert "https://***@host/v1" in clean
    assert public_url(f"https://u:{PASSWORD}@host/v1/") == "https://host/v1"


def leak_forms(*secrets: str) -> list[bytes]:
    """Each secret as written and base64-encoded (alone, and as HTTP Basic sends `user:pw`)."""
    out = []
    for s in secrets:
        out += [s.encode(), base64.b64encode(s.encode()), base64.b64encode(s.encode()).rstrip(b"=")]
    return out


def test_an_endpoint_echoing_the_authorization_header_leaks_nothing(tmp_path, fake_openai):
    """Issue 15 item 7: credentials in the base URL are not sent (the key goes as a bearer token),
    and whatever the endpoint echoes is scrubbed from stderr, failed.json, rejected.jsonl, the data,
    the cache and report.html, also in base64."""
    user = "canary-user"
    secret_url = fake_openai.base_url.replace("http://", f"http://{user}:{PASSWORD}@")

    def echoing(call):
        auth = call.headers.get("authorization", "")
        echo = f"you sent Authorization: {auth}"
        if "cats" in call.last_user:
            return error(401, echo)                                  # stops the run: failed.json
        if "running" in call.last_user:
            return error(400, echo, code="invalid_prompt")           # rejected.jsonl
        if call.attempt == 1:
            return error(500, echo, headers={"x-request-id": f"req {auth}"})  # retry lines on stderr
        return ok(echo)(call)                                        # the reply itself: data.jsonl

    fake_openai.reply_fn = echoing
    recipe = write_recipe(tmp_path, "http://placeholder.invalid/v1", llm={"concurrency": 2})
    out = tmp_path / "run"
    env = {"OPENAI_API_KEY": CANARY_KEY, "PYTHONPATH": str(ROOT)}
    first = cli("run", str(recipe), "--out", str(out), "--base-url", secret_url, env=env)
    assert first.returncode == 1 and "OPENAI_API_KEY" in first.stderr
    assert (out / "respond" / "failed.json").exists() and "retry 1 of" in first.stderr
    fake_openai.reply_fn = lambda call: echoing(call) if "cats" not in call.last_user else ok("fine")(call)
    second = cli("run", str(recipe), "--out", str(out), "--base-url", secret_url, env=env)
    assert second.returncode == 0, second.stderr
    report = cli("report", str(out), env=env)
    assert report.returncode == 0, report.stderr
    assert fake_openai.auth_seen == {f"Bearer {CANARY_KEY}"}, "URL credentials sent, or the key not sent"
    assert "credentials in the base URL" in first.stderr
    rejected = (out / "respond" / "rejected.jsonl").read_text()
    assert "invalid_prompt" in rejected and "Bearer ***" in rejected

    leaks = leak_forms(CANARY_KEY, PASSWORD, f"{user}:{PASSWORD}")
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in files)
    for path in files:
        data = path.read_bytes()
        assert not [x for x in leaks if x in data], f"secret found in {path}"
    for proc in (first, second, report):
        text = (proc.stdout + proc.stderr).encode()
        assert not [x for x in leaks if x in text], text.decode()[-2000:]


def test_redaction_knows_base64_forms_of_every_secret():
    user_pw = "canary-user:" + PASSWORD
    remember(user_pw)
    remember(PASSWORD)
    remember(CANARY_KEY)
    basic = base64.b64encode(user_pw.encode()).decode()
    bearer = base64.b64encode(f"Bearer {CANARY_KEY}".encode()).decode()
    text = f"Authorization: Basic {basic}; x={base64.b64encode(PASSWORD.encode()).decode()}; y={bearer}"
    clean = redact(text)
    for leak in leak_forms(CANARY_KEY, PASSWORD, user_pw):
        assert leak.decode() not in clean
    key = CANARY_KEY.encode()  # inside "Bearer KEY" the key starts at byte 7: groups from its 3rd byte
    inner = base64.b64encode(key[2:2 + 3 * ((len(key) - 2) // 3)]).decode()
    assert inner in text and inner not in clean
