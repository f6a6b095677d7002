"""Turn collected run data into one self-contained HTML page (Jinja2 with autoescaping, inline
CSS and SVG, no script) and write it atomically.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from pipeline import __version__
from pipeline.jsonl import atomic_write_text
from pipeline.progress import say
from pipeline.report import charts
from pipeline.report.agreement import agreement_html
from pipeline.report.collect import ReportData, StageView
from pipeline.report.figures import GENERATED_NOTE, Dist, token_note
from pipeline.rundir import RunDir
from pipeline.errors import UserError
from pipeline.tokens import load, using

TEXT_LIMIT = 1200
EXAMPLE_LIMIT = 300
META_LIMIT = 240
PROVENANCE = ("source", "stage", "parents", "model", "prompt", "license", "lang")


def clip(text: Any, limit: int) -> str:
    text = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + f"\u2026 [{len(text) - limit} more characters]"


def code_spans(text: str) -> Markup:
    """Escape `text`, then show its `backticked` parts as code (the notes are shared with the card)."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


def turns(messages: Any, limit: int) -> list[tuple[str, str]]:
    if not isinstance(messages, list):
        return []
    return [(str(m.get("role", "?")), clip(m.get("content", ""), limit)) for m in messages[:8]
            if isinstance(m, dict)]


def example_view(item: dict) -> dict:
    """A rejected item as shown: reason, detail, where, and its record's turns or its raw row."""
    rec = item.get("record") if isinstance(item.get("record"), dict) else None
    out = {"reason": str(item.get("reason", "")), "detail": clip(item.get("detail", ""), EXAMPLE_LIMIT),
           "where": str(item.get("where") or ""), "turns": [], "raw": ""}
    if rec:
        out["turns"] = turns(rec.get("messages"), EXAMPLE_LIMIT)
        out["id"] = str(rec.get("id", ""))
    elif "raw" in item:
        out["raw"] = clip(item["raw"], EXAMPLE_LIMIT)
    return out


def sample_view(obj: dict) -> dict:
    """A kept record as shown: id, turns, provenance first, then the rest of its meta."""
    meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    keys = [k for k in PROVENANCE if k in meta] + sorted(k for k in meta if k not in PROVENANCE)
    return {"id": str(obj.get("id", "")), "turns": turns(obj.get("messages"), TEXT_LIMIT),
            "meta": [(k, clip(meta[k], META_LIMIT)) for k in keys]}


def funnel_chart(stages: list[StageView]) -> Any:
    items = [(f"{v.id} ({v.op})", v.stats.get("records_out", 0)) for v in stages]
    return charts.hbars(items, "Records kept after each stage")


def mix_charts(data: ReportData) -> dict[str, Any]:
    rs = data.records

    def top(counter, k=12):
        return sorted(((str(a), b) for a, b in counter.items()), key=lambda kv: (-kv[1], kv[0]))[:k]

    ops = sorted(rs.ops.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "source": charts.hbars(top(rs.sources), "Records per source"),
        "stage": charts.hbars(top(rs.stages), "Records per stage of origin"),
        "lang": charts.hbars(top(rs.langs), "Records per language"),
        "op": charts.hbars([(f"{op} \u00b7 {kind}", n) for (op, kind), n in ops], "Records per op",
                           colors=[charts.AMBER if kind == "generated" else charts.BLUE for (_, kind), _ in ops]),
    }


def dist_charts(data: ReportData) -> list[dict]:
    rs = data.records
    out = [("Instruction length", "first user turn, tokens (est.)", rs.instruction_tokens, charts.BLUE),
           ("Response length", "last assistant turn, tokens (est.)", rs.response_tokens, charts.BLUE),
           ("Turns", "user turns per record", rs.turns, charts.GREY)]
    out += [(f"Score: {k}", "meta.scores." + k, d, charts.AMBER) for k, d in sorted(rs.scores.items())]
    out += [(f"Novelty: {k}", "meta." + k, d, charts.RED) for k, d in sorted(rs.similarity.items())]
    return [{"title": t, "xlabel": x, "summary": d.summary(), "chart": _hist(d, t, x, c)}
            for t, x, d, c in out if d.n]


def _hist(d: Dist, title: str, xlabel: str, color: str) -> Any:
    return charts.histogram(d, title, xlabel=xlabel, color=color)


def diversity_charts(data: ReportData) -> dict[str, Any]:
    div = data.diversity
    return {"leading": charts.hbars(div.top("leading", 15), "Most common leading words"),
            "bigrams": charts.hbars(div.top("bigrams", 15), "Most common opening bigrams"),
            "pairs": charts.hbars(div.top("pairs", 20), "Most common verb \u2192 object pairs")}


def render_html(data: ReportData) -> str:
    env = Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=select_autoescape(["j2"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = charts.fmt_num
    env.filters["code"] = code_spans
    env.filters["count_of"] = lambda n, noun: f"{charts.fmt_num(n)} {noun}{'' if n == 1 else 's'}"
    page = env.get_template("page.html.j2")
    stages = [{"v": v, "reasons": [(r, [example_view(e) for e in r.examples]) for r in v.reasons],
               "samples": [sample_view(s) for s in v.samples]} for v in data.stages]
    return page.render(
        d=data, stages=stages, version=__version__, funnel=funnel_chart(data.stages),
        reason_charts={v.id: charts.hbars([(r.code, r.count) for r in v.reasons], f"Rejected by {v.id}",
                                          color=charts.RED) for v in data.stages if v.reasons},
        mix=mix_charts(data), dists=dist_charts(data), div=diversity_charts(data),
        token_note=token_note(), generated_note=GENERATED_NOTE,
        agreement=Markup(agreement_html(data.run_dir)))  # already escaped HTML (review decisions)


def run_tokenizer(run_dir: Path) -> str | None:
    """The tokenizer the run's recipe named, if it is still there (else the estimate, said so)."""
    path = (RunDir(run_dir).manifest() or {}).get("tokenizer")
    if not path:
        return None
    try:
        load(path)
    except UserError as e:  # moved, or the extra is not installed here: the report still renders
        say(f"warning: {e}; token counts in the report are estimates")
        return None
    return path


def write_report(run_dir: Path, out: Path | None = None, *, samples: int = 5, seed: int = 0) -> Path:
    """Collect `run_dir` and write its report (default `RUN_DIR/report.html`); return the path."""
    from pipeline.report.collect import collect

    with using(run_tokenizer(run_dir)):
        data = collect(run_dir, samples=samples, seed=seed)
        html = render_html(data)
    if data.unreadable:
        say(f"warning: skipped {data.unreadable} unreadable lines in {data.final}/data.jsonl")
    target = out or Path(run_dir) / "report.html"
    atomic_write_text(target, html)
    return target
