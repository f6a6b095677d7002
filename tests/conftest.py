"""Shared fixtures: paths of bundled data and a helper to run the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLES = ROOT / "sources" / "samples"
QUICKSTART = ROOT / "recipes" / "quickstart.yaml"


def cli(*args: str, cwd: Path | None = None, env: dict | None = None, check: bool = False,
        timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `instructpipe ARGS` in a subprocess (python -m pipeline), capturing output."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"instructpipe {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture
def run_cli():
    return cli
