"""Run output on a real terminal: `script` (util-linux) gives the command a pty, so rich draws."""

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import QUICKSTART, ROOT

pytestmark = pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux `script`")


def on_a_pty(args: list[str], cwd) -> str:
    """Run `python -m pipeline ARGS` under `script -qc` and return what the terminal showed."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm", COLUMNS="160")
    env.pop("NO_COLOR", None)
    command = " ".join([sys.executable, "-m", "pipeline", *args])
    proc = subprocess.run(["script", "-qec", command, "/dev/null"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


def test_stage_prefixes_survive_a_real_terminal(tmp_path):
    out = tmp_path / "qs"
    shown = on_a_pty(["run", str(QUICKSTART), "--out", str(out), "--until", "dedup"], tmp_path)
    assert "\x1b[" in shown or "\r" in shown  # it really was drawn as a terminal
    for stage in ("alpaca", "dolly", "dedup"):
        assert f"[{stage}] done: " in shown, shown
    again = on_a_pty(["run", str(QUICKSTART), "--out", str(out), "--until", "dedup"], tmp_path)
    assert "[dedup] done, skipped" in again, again
