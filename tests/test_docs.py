"""The docs the project points to are in the project, and what they say about keys holds."""

import json
import os
import re
from pathlib import Path

from tests.conftest import ROOT, cli
from tests.fake_openai import FakeOpenAI

POINTING = [*ROOT.glob("recipes/*.yaml"), *ROOT.glob("tests/fixtures/*/README.md"), ROOT / "README.md",
            *ROOT.glob("docs/*.md")]


def headings(doc: Path) -> set[str]:
    """Section titles, without a trailing `(op)` note: `FLAN collection (`flan`)` -> `FLAN collection`."""
    return {re.sub(r"\s*\(.*\)$", "", line.lstrip("#").strip())
            for line in doc.read_text().splitlines() if line.startswith("#")}


def test_every_cited_doc_and_section_is_in_the_repository():
    cited = 0
    for path in POINTING:
        text = path.read_text()
        assert "methods.md §" not in text, f"{path}: cites a section number of a document we do not ship"
        for doc, section in re.findall(r"(docs/[\w.-]+\.md)`?,\s*#?\s*\"([^\"]+)\"", text):
            assert (ROOT / doc).is_file(), f"{path}: {doc} is not in the repository"
            assert section in headings(ROOT / doc), f"{path}: {doc} has no section {section!r}"
            cited += 1
    assert cited >= 5


def test_a_local_endpoint_works_without_a_key_as_the_readme_says(tmp_path, monkeypatch):
    """Ollama ignores the key, the openai SDK wants one: with none set, a placeholder is sent."""
    readme = (ROOT / "README.md").read_text()
    ollama = next(line for line in readme.splitlines() if "11434" in line)
    assert "ignores" in ollama and "placeholder" in readme
    src = tmp_path / "open.jsonl"
    src.write_text(json.dumps({"messages": [{"role": "user", "content": "Say hi."}]}) + "\n")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = FakeOpenAI().start()
    try:
        proc = cli("stage", "respond", "-i", str(src), "-o", str(tmp_path / "out.jsonl"), "--model", "m",
                   env={"OPENAI_BASE_URL": server.base_url})
        assert proc.returncode == 0, proc.stderr
        assert server.completions == 1
        assert server.auth_seen == {"Bearer not-needed"}
    finally:
        server.stop()
