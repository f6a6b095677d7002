"""Issue 15 item 21: values of secret-like `${ENV}` variables in a recipe reach neither the
manifest on disk nor the dry-run files (URL credentials included)."""

from __future__ import annotations

import base64

from tests.conftest import SAMPLES, cli

KEY, PASSWORD = "sk-canary-recipe-7f3a9c1e", "pw-canary-5b2d8e"


def recipe(tmp_path, port: int):
    p = tmp_path / "r.yaml"
    p.write_text(f"""
name: canary
llm:
  model: fake-model
  base_url: "http://proxy:${{PROXY_PASSWORD}}@127.0.0.1:{port}/v1"
stages:
  - id: a
    op: ingest
    source: alpaca
    path: {SAMPLES / "alpaca_sample.json"}
    label: "${{MY_API_KEY}}"
  - id: answer
    op: respond
    inputs: [a]
""")
    return p


def leaks(text: str) -> list[str]:
    forms = [KEY, PASSWORD, base64.b64encode(f"proxy:{PASSWORD}".encode()).decode()]
    return [f for f in forms if f in text]


def test_secret_env_values_stay_out_of_the_manifest_and_the_dry_run_files(tmp_path, fake_openai):
    env = {"MY_API_KEY": KEY, "PROXY_PASSWORD": PASSWORD, "OPENAI_API_KEY": "sk-unused-0000"}
    r = recipe(tmp_path, fake_openai.port)
    out = tmp_path / "run"
    proc = cli("run", str(r), "--out", str(out), "--until", "a", env=env)
    assert proc.returncode == 0, proc.stderr
    manifest = (out / "manifest.json").read_text()
    assert "***" in manifest and leaks(manifest) == []
    proc = cli("run", str(r), "--out", str(out), "--dry-run", env=env)
    assert proc.returncode == 0, proc.stderr
    files = [p for p in (out / "dry-run").rglob("*") if p.is_file()]
    assert files and fake_openai.completions == 0
    for p in files + [out / "manifest.json"]:
        assert leaks(p.read_text()) == [], p
    assert leaks(proc.stderr + proc.stdout) == []
