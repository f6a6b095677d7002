"""Every Python example in docs/python.md runs as it stands: in order, in one empty folder, each
in a fresh interpreter, with the LLM examples answered by the fake server."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import ROOT
from tests.fake_openai import FakeOpenAI

DOC = ROOT / "docs" / "python.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, re.S | re.M)


def test_docs_python_examples_run(tmp_path):
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 6
    server = FakeOpenAI().start()
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_BASE_URL": server.base_url,
               "OPENAI_API_KEY": "sk-docs-example"}
        for i, code in enumerate(blocks):
            proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=300)
            assert proc.returncode == 0, f"docs/python.md example {i + 1} failed:\n{code}\n{proc.stderr}"
        assert server.completions == 2  # respond: one question, then its second sample; nothing twice
    finally:
        server.stop()
    assert (tmp_path / "runs" / "quickstart" / "export" / "done.json").exists()
