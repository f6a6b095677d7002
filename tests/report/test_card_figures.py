"""The dataset card carries the report's key figures and links the run's report."""

from __future__ import annotations

import os

from tests.conftest import cli
from tests.report.html_tables import key_figures


def card_figures(card: str) -> dict[str, str]:
    section = card.split("## Key figures\n\n", 1)[1].split("\n\n", 1)[0]
    rows = [line.strip("|").split(" | ") for line in section.splitlines()[2:]]
    return {label.strip(): value.strip() for label, value in rows}


def test_card_key_figures_equal_the_report_and_link_it(quickstart_run, quickstart_html):
    card = (quickstart_run / "export" / "dataset" / "README.md").read_text(encoding="utf-8")
    assert card_figures(card) == key_figures(quickstart_html)
    assert card_figures(card)["records"] == "435"
    assert "[../../report.html](../../report.html)" in card
    assert "`instructpipe report <run folder>`" in card


def test_card_from_export_cli_has_llm_figures_and_is_deterministic(crafted_run, tmp_path):
    out = tmp_path / "ds"
    cli("export", str(crafted_run), "--format", "alpaca", "-o", str(out), check=True)
    first = (out / "README.md").read_bytes()
    cli("export", str(crafted_run), "--format", "alpaca", "-o", str(out), check=True)
    assert (out / "README.md").read_bytes() == first
    figures = card_figures(first.decode("utf-8"))
    assert figures["generated in this run"] == "2 (50.0%)"
    assert figures["LLM requests (cache hits)"] == "12 (5)"
    assert figures["LLM tokens in / out"] == "3,400 / 1,200"
    assert figures["LLM cost (USD)"] == "0.0123"
    link = os.path.relpath(crafted_run / "report.html", out)
    assert link.endswith("/run/report.html")
    assert f"[{link}]({link})" in first.decode("utf-8")
