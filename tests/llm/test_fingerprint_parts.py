"""Issue 15 item 21: a prompt file's content and the op's version are part of a stage's
fingerprint. Checked on a copy of the project, editing the real files a user (or a release) edits."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.conftest import ROOT, cli
from tests.llm.conftest import CANARY_KEY, OPEN_60

IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def copy_project(dest: Path) -> Path:
    for part in ("pipeline", "prompts", "recipes", "sources"):
        shutil.copytree(ROOT / part, dest / part, ignore=IGNORE)
    return dest


def outcome(proc) -> dict[str, str]:
    assert proc.returncode == 0, proc.stderr
    got = {}
    for line in proc.stderr.splitlines():
        if line.startswith("[") and "] " in line:
            sid, rest = line[1:].split("] ", 1)
            if rest == "done, skipped":
                got[sid] = "skipped"
            elif rest.endswith(": running"):
                got[sid] = "ran"
    return got


def test_editing_a_prompt_file_or_bumping_the_op_version_reruns_the_stage(tmp_path, llm_env):
    proj = copy_project(tmp_path / "proj")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "fp", "llm": {"model": "fake-model", "base_url": llm_env.base_url},
        "stages": [{"id": "in", "op": "ingest", "source": "messages", "path": str(OPEN_60), "limit": 5},
                   {"id": "answer", "op": "respond", "inputs": ["in"], "chain_of_thought": True},
                   {"id": "keep", "op": "filter", "inputs": ["answer"]}]}, sort_keys=False))
    env = {"PYTHONPATH": str(proj), "OPENAI_API_KEY": CANARY_KEY}

    def run() -> dict[str, str]:
        return outcome(cli("run", str(recipe), "--out", str(tmp_path / "out"), cwd=proj, env=env))

    assert run() == {"in": "ran", "answer": "ran", "keep": "ran"}
    assert run() == {"in": "skipped", "answer": "skipped", "keep": "skipped"}
    prompt = proj / "prompts" / "respond_cot.md"
    prompt.write_text(prompt.read_text() + "\nKeep the final answer short.\n")
    assert run() == {"in": "skipped", "answer": "ran", "keep": "ran"}
    sent = llm_env.completions
    op = proj / "pipeline" / "ops" / "respond.py"
    text = op.read_text()
    assert text.count('name="respond", fn=run, params=RespondParams, version=1,') == 1
    op.write_text(text.replace("version=1,", "version=2,"))
    assert run() == {"in": "skipped", "answer": "ran", "keep": "ran"}
    assert llm_env.completions == sent  # a new op version re-parses from the cache: nothing sent
    assert run() == {"in": "skipped", "answer": "skipped", "keep": "skipped"}
