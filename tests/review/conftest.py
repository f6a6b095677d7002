"""A small reviewed run (ingest -> filter -> review -> export) and a real `instructpipe review` server."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli



def review_extra_missing() -> str | None:
    """Why the server tests cannot run here (the `review` extra is not installed), or None."""
    for module in ("starlette", "uvicorn", "markdown_it"):
        if importlib.util.find_spec(module) is None:
            return f"{module} not installed (pip install -e '.[review]' or '.[dev]')"
    return None


needs_server = pytest.mark.skipif(review_extra_missing() is not None, reason=str(review_extra_missing()))


def record(i: int, question: str, answer: str | None, **meta) -> dict:
    msgs = [{"role": "user", "content": question}]
    if answer is not None:
        msgs.append({"role": "assistant", "content": answer})
    return {"messages": msgs, "meta": {"source": "src_a" if i % 2 else "src_b", "lang": "en", **meta}}


ROWS = [
    record(0, "Name three primary colours.", "Red, yellow and blue are the traditional primaries.",
           scores={"judge": 5}),
    record(1, "What is the capital of France?", "Paris is the capital of France.", scores={"judge": 4}),
    record(2, "Explain recursion briefly.", "A function that calls itself on a smaller input.",
           scores={"judge": 2}),
    record(3, "Write a haiku about rain.", "Soft rain on the roof / the gutters hum a low song / "
           "puddles hold the sky", scores={"judge": 3}),
    record(4, "Show `<script>alert(1)</script>` as code.",
           "Here it is: <script>window.__pwned = 1</script> and `<b>bold</b>`\n\n```html\n<script>x()</script>\n```",
           scores={"judge": 1}),
    record(5, "Give me the forbidden recipe.", "The forbidden recipe needs flour, water and salt."),
    record(6, "Translate 'cat' to German.", "Katze."),
    record(7, "Summarise the water cycle.", None),
    record(8, "List two prime numbers.", "Two and three are both prime numbers."),
    record(9, "Why is the sky blue?", "Rayleigh scattering makes short blue wavelengths spread most."),
]

RECIPE = """name: reviewed
stages:
  - id: src
    op: ingest
    source: messages
    path: data.jsonl
  - id: filter
    op: filter
    inputs: [src]
    require_complete: true
    min_words: 3
    banned_keywords: [forbidden]
  - id: review
    op: review
    from: filter
    unreviewed: {unreviewed}
  - id: export
    op: export
    inputs: [review]
    format: messages
    validation: 0
"""


def make_run(folder: Path, unreviewed: str = "keep") -> tuple[Path, Path]:
    """Write data + recipe into `folder`, run it up to `filter`; return (recipe, run folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    recipe = folder / "recipe.yaml"
    recipe.write_text(RECIPE.format(unreviewed=unreviewed), encoding="utf-8")
    run = folder / "out"
    cli("run", str(recipe), "--out", str(run), "--until", "filter", check=True)
    return recipe, run


@pytest.fixture
def reviewed_run(tmp_path) -> tuple[Path, Path]:
    return make_run(tmp_path / "proj")


class Server:
    """`instructpipe review RUN ...` in a subprocess; `url` is what it printed."""

    def __init__(self, run: Path, *args: str):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline", "review", str(run), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        if "serving" not in line:
            self.proc.kill()
            raise AssertionError(f"review server did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line.rsplit(" at ", 1)[1].strip()
        self.base = self.url.split("?", 1)[0].rstrip("/")
        self.token = self.page_token() if "?token=" not in self.url else None

    def page_token(self) -> str:
        html = urllib.request.urlopen(self.base + "/").read().decode()
        return html.split('name="review-token" content="', 1)[1].split('"', 1)[0]

    def get(self, path: str, headers: dict | None = None) -> tuple[int, object]:
        return self.request("GET", path, None, headers)

    def post(self, path: str, body: object, headers: dict | None = None, csrf: bool = True) -> tuple[int, object]:
        h = {"Content-Type": "application/json"}
        if csrf:
            h["X-Review-Token"] = self.token
        h.update(headers or {})
        return self.request("POST", path, json.dumps(body).encode(), h)

    def request(self, method: str, path: str, data: bytes | None, headers: dict | None) -> tuple[int, object]:
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req) as resp:
                raw, status = resp.read(), resp.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def serve():
    started: list[Server] = []

    def start(run: Path, *args: str) -> Server:
        s = Server(run, *args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
