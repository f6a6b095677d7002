"""`instructpipe report` on real runs: the funnel, reasons with examples, mix, figures, samples,
LLM usage, escaping of hostile record text, the `-o` option and errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import cli
from tests.report.conftest import LLM_COUNTERS, QUICKSTART, XSS
from tests.report.html_tables import key_figures, parse, table


def stats(run: Path, sid: str) -> dict:
    return json.loads((run / sid / "stats.json").read_text())


def num(n) -> str:
    return f"{n:,}"


def test_quickstart_report_funnel_matches_every_stage_counter(quickstart_run, quickstart_html):
    html = quickstart_html
    manifest = json.loads((quickstart_run / "manifest.json").read_text())
    assert list(manifest["stages"]) == ["alpaca", "alpagasus", "seeds", "mix", "dedup", "filter", "export"]
    funnel = table(html, "stage", "op")
    assert list(funnel) == list(manifest["stages"])
    for sid, entry in manifest["stages"].items():
        st = stats(quickstart_run, sid)
        assert funnel[sid][:7] == [sid, entry["op"], ", ".join(entry["inputs"]) or "-", "done",
                                   num(st["records_in"]), num(st["records_out"]), num(st["rejected"])]
    assert funnel["mix"][4:7] == ["525", "470", "55"]
    assert funnel["export"][4:7] == ["435", "435", "0"]


def test_quickstart_report_lists_every_reason_with_examples(quickstart_run, quickstart_html):
    page = parse(quickstart_html)
    reasons = [s for s in page.summaries if " example" in s]
    assert reasons == ["not_sampled · 55 records · 3 examples", "duplicate · 30 records · 3 examples",
                       "incomplete · 5 records · 3 examples"]
    for sid in ("mix", "dedup", "filter"):
        dropped = {k for k, v in stats(quickstart_run, sid).items() if k.startswith("dropped_") and v}
        assert all(any(s.startswith(k[len("dropped_"):] + " ·") for s in reasons) for k in dropped)


def test_quickstart_report_figures_mix_and_samples(quickstart_run, quickstart_html):
    html = quickstart_html
    figures = key_figures(html)
    assert figures["records"] == "435"
    assert figures["generated in this run"] == "0 (0.0%)"
    assert figures["sources"] == ("3: alpaca 56.3%, self_instruct_seeds 27.6%, "
                                  "alpagasus_random_9k 16.1%")
    assert figures["LLM requests (cache hits)"] == "0 (0)"
    samples = [s for s in parse(html).summaries if " of " in s and "records" in s]
    assert samples == [f"{sid} ({st['op']}): 5 of {num(st['records_out'])} records"
                       for sid, st in ((s, stats(quickstart_run, s)) for s in
                                       ("alpaca", "alpagasus", "seeds", "mix", "dedup", "filter", "export"))]
    for label in ("Records per source", "Instruction length", "Response length", "Most common leading words",
                  "No stage of this run called an LLM."):
        assert label in html
    assert "<script" not in html.lower() and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_report_out_option_writes_the_same_bytes(quickstart_run, quickstart_html, tmp_path):
    default = quickstart_html
    target = tmp_path / "elsewhere" / "r.html"
    cli("report", str(quickstart_run), "-o", str(target), check=True)
    assert target.read_text(encoding="utf-8") == default


def test_report_of_a_missing_or_foreign_folder_is_a_clear_error(tmp_path):
    proc = cli("report", str(tmp_path / "nope"))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: {tmp_path / 'nope'}: no such run folder"
    proc = cli("report", str(tmp_path))
    assert proc.returncode == 1
    assert "not a run folder (no manifest.json)" in proc.stderr


def test_crafted_report_escapes_record_text(crafted_html):
    html = crafted_html
    low = html.lower()
    assert "<script" not in low and "<img" not in low and "onerror=\"" not in low
    escaped = XSS.replace("<", "&lt;").replace(">", "&gt;")
    assert html.count(escaped) >= 3
    assert "&lt;b&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;/b&gt;" in html


def test_crafted_report_figures_scores_novelty_and_llm_usage(crafted_html):
    html = crafted_html
    figures = key_figures(html)
    assert figures["records"] == "4"
    assert figures["generated in this run"] == "2 (50.0%)"
    assert figures["languages"] == "en 75.0%, zh 25.0%"
    assert figures["score judge"] == "median 3, mean 3.75 (2 scored)"
    assert figures["score deita.quality"] == "median 3, mean 3.00 (1 scored)"
    assert "score judge_explanation" not in figures
    assert figures["novelty most_similar"] == "median 0.1, mean 0.250, p90 0.4, max 0.4"
    assert figures["LLM requests (cache hits)"] == "12 (5)"
    assert figures["LLM tokens in / out"] == "3,400 / 1,200"
    llm = table(html, "stage", "op")
    assert "export" in llm  # the funnel; the LLM table follows
    usage = [rows for rows in parse(html).tables if rows[0][2:4] == ["requests", "cache hits"]][0]
    # counters are read by their declared names: the per-cause retries_* are a breakdown of `retries`,
    # not more retries, and `not_sent` is not a failure
    assert usage[1][:9] == ["filter", "filter", "12", "5", "3,400", "1,200", "0.0123", "3", "1"]
    assert "retries_connection_error 2" in usage[1][9] and "not_sent 2" in usage[1][9]
    reasons = [s for s in parse(html).summaries if " example" in s]
    assert reasons == ["incomplete · 1 record · 1 example", "instruction_too_short · 1 record · 1 example"]
    assert "Over the instructions of 2 generated records" in html


def test_report_of_an_unfinished_run_with_a_torn_last_line(tmp_path):
    run = tmp_path / "run"
    cli("run", str(QUICKSTART), "--out", str(run), "--until", "dedup", check=True)
    with open(run / "dedup" / "data.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"id":"torn","messages":[{"ro')
    proc = cli("report", str(run), check=True)
    assert "warning: skipped 1 unreadable lines in dedup/data.jsonl" in proc.stderr
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "1 unreadable line in" in html
    funnel = table(html, "stage", "op")
    assert funnel["dedup"][3:7] == ["done", "470", "440", "30"]
    assert funnel["filter"][3:7] == ["pending", "0", "0", "0"]
    assert key_figures(html)["records"] == "440"
