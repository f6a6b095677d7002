"""Run folders for the report tests: the quickstart run, and a small crafted run whose records
carry hostile markup, generated records, scores, novelty similarities and LLM counters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import cli

QUICKSTART = Path(__file__).resolve().parent / "quickstart_v1.yaml"

XSS = "<script>alert(1)</script>"
TITLE_XSS = "<script>document.title='pwned'</script>"
IMG_XSS = "<img src=x onerror=\"document.title='pwned'\">"
LLM_COUNTERS = {"requests": 12, "cached": 5, "tokens_in": 3400, "tokens_out": 1200,
                "cost_usd": 0.0123, "retries": 3, "retries_connection_error": 2, "retries_rate_limit": 1,
                "failures": 1, "not_sent": 2}


def _chat(user: str, assistant: str | None, **meta) -> dict:
    messages = [{"role": "user", "content": user}]
    if assistant is not None:
        messages.append({"role": "assistant", "content": assistant})
    return {"messages": messages, "meta": meta}


CRAFTED_ROWS = [
    _chat(f"{XSS} Write a poem about cats", f"{IMG_XSS} Soft paws on the sill.", model="gpt-test",
          lang="en", scores={"judge": 4.5, "judge_explanation": f"</pre>{TITLE_XSS}",
                             "deita": {"quality": 3.0, "complexity": 2.0}},
          avg_similarity=0.2, most_similar={"Write a song about dogs": 0.4}),
    _chat("Generate a list of three fruits", "Apple, pear, plum.", model="gpt-test", lang="en",
          scores={"judge": 3.0}, avg_similarity=0.05, most_similar={"Name a fruit": 0.1}),
    _chat("Explain why the sky is blue", "Rayleigh scattering of sunlight.", lang="en",
          source=f"<b>{XSS}</b>"),
    _chat("请写一首关于猫的诗", "猫咪在窗台上晒太阳。", lang="zh"),
    _chat(XSS, "short instruction, rejected by the filter", lang="en"),
    _chat("An instruction left without its answer", None, lang="en"),
]


def crafted_recipe(folder: Path) -> Path:
    data = folder / "crafted.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in CRAFTED_ROWS), encoding="utf-8")
    recipe = folder / "crafted.yaml"
    recipe.write_text(
        "name: crafted\n"
        "stages:\n"
        "  - {id: chats, op: ingest, source: messages, path: crafted.jsonl}\n"
        "  - {id: filter, op: filter, inputs: [chats], require_complete: true, instruction_min_words: 3}\n"
        "  - {id: export, op: export, inputs: [filter], format: messages}\n", encoding="utf-8")
    return recipe


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report-quickstart") / "run"
    cli("run", str(QUICKSTART), "--out", str(out), check=True)
    return out


@pytest.fixture(scope="session")
def crafted_run(tmp_path_factory) -> Path:
    """The crafted run, with the `filter` stage's stats given an LLM stage's counters."""
    folder = tmp_path_factory.mktemp("report-crafted")
    out = folder / "run"
    cli("run", str(crafted_recipe(folder)), "--out", str(out), check=True)
    stats_path = out / "filter" / "stats.json"
    stats = json.loads(stats_path.read_text())
    stats.update(LLM_COUNTERS)
    stats_path.write_text(json.dumps(stats, indent=2))
    return out


def _report(run: Path) -> str:
    proc = cli("report", str(run), check=True)
    assert f"wrote {run / 'report.html'}" in proc.stderr
    return (run / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def quickstart_html(quickstart_run) -> str:
    """`instructpipe report` of the quickstart run (written to its default RUN_DIR/report.html)."""
    return _report(quickstart_run)


@pytest.fixture(scope="session")
def crafted_html(crafted_run) -> str:
    return _report(crafted_run)
