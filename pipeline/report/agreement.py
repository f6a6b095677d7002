"""Agreement between reviewers, and between reviewers and the pipeline's own decisions.

Labels are binary: a reviewer's latest accept or edit counts as *accept*, reject as *reject*;
a flag is no verdict. Per pair of reviewers: the records both decided, the share they agree on
and Cohen's kappa. Against the pipeline: the stage's own verdict (kept or rejected) and every
numeric `meta.scores` key, split at the `judge` stage's threshold when the run has one for that
key, else at the median; with agreement, kappa and a confusion table. This tells a user whether
the judge or a filter can be trusted.
"""

from __future__ import annotations

import html
from itertools import combinations
from pathlib import Path
from typing import Iterable

import orjson

LABELS = ("accept", "reject")


def label_of(action: str | None) -> str | None:
    return {"accept": "accept", "edit": "accept", "reject": "reject"}.get(action or "")


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two equally long label lists (None when undefined)."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    cats = set(a) | set(b)
    expected = sum((a.count(c) / n) * (b.count(c) / n) for c in cats)
    if expected >= 1.0:
        return 1.0 if observed == 1.0 else None
    return (observed - expected) / (1 - expected)


def compare(a: dict[str, str], b: dict[str, str]) -> dict:
    """Agreement of two raters over the records both labelled; `table[a_label][b_label]`."""
    common = sorted(set(a) & set(b))
    xs, ys = [a[k] for k in common], [b[k] for k in common]
    table = {x: {y: 0 for y in LABELS} for x in LABELS}
    for x, y in zip(xs, ys):
        table[x][y] += 1
    agree = sum(x == y for x, y in zip(xs, ys)) / len(common) if common else None
    return {"n": len(common), "agree": agree, "kappa": cohen_kappa(xs, ys), "table": table}


def reviewer_labels(lines: Iterable[dict]) -> dict[str, dict[str, str]]:
    """reviewer -> record id -> label of the reviewer's latest verdict (flags skipped)."""
    out: dict[str, dict[str, str]] = {}
    for d in lines:
        label = label_of(d.get("action"))
        if label:
            out.setdefault(str(d.get("reviewer")), {})[str(d.get("record_id"))] = label
    return out


def consensus(lines: Iterable[dict]) -> dict[str, str]:
    """record id -> the newest verdict of any reviewer (what the `review` op applies)."""
    out: dict[str, str] = {}
    for d in lines:
        label = label_of(d.get("action"))
        if label:
            out[str(d.get("record_id"))] = label
    return out


def thresholds(manifest: dict) -> dict[str, float]:
    """meta.scores key -> keep threshold of the run's `judge` stages."""
    out = {}
    shown = {s.get("id"): s for s in (manifest.get("recipe") or {}).get("stages", []) if isinstance(s, dict)}
    for sid, entry in (manifest.get("stages") or {}).items():
        params = shown.get(sid) or {}
        if entry.get("op") == "judge" and isinstance(params.get("threshold"), (int, float)):
            from pipeline.ops.judge import score_key

            out[score_key(str(params.get("dimension") or "accuracy"), params.get("key"))] = float(params["threshold"])
    return out


def stage_agreement(lines: list[dict], facts: dict[str, dict], cuts: dict[str, float]) -> dict:
    """Agreement figures of one stage. `facts`: record id -> {"verdict", "scores"}."""
    per = reviewer_labels(lines)
    pairs = [{"a": a, "b": b, **compare(per[a], per[b])} for a, b in combinations(sorted(per), 2)]
    people = consensus(lines)
    raters = [{"name": "stage verdict (kept = accept)",
               **compare(people, {k: f["verdict"] for k, f in facts.items() if f.get("verdict")})}]
    keys = sorted({k for f in facts.values() for k, v in (f.get("scores") or {}).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)})
    for key in keys:
        values = {rid: float(f["scores"][key]) for rid, f in facts.items()
                  if isinstance((f.get("scores") or {}).get(key), (int, float))}
        cut = cuts.get(key)
        how = "judge threshold"
        if cut is None:
            ordered = sorted(values.values())
            cut, how = ordered[len(ordered) // 2], "median"
        rater = {rid: "accept" if v >= cut else "reject" for rid, v in values.items()}
        raters.append({"name": f"scores.{key} >= {cut:g} ({how})", **compare(people, rater)})
    return {"reviewers": sorted(per), "reviewed": len(people), "pairs": pairs, "raters": raters}


def scan_facts(stage_dir: Path, wanted: set[str]) -> dict[str, dict]:
    """Verdict and scores of the `wanted` record ids, read from a stage's files."""
    facts: dict[str, dict] = {}
    for name, verdict in (("data.jsonl", "accept"), ("rejected.jsonl", "reject")):
        path = stage_dir / name
        if not path.exists() or not wanted:
            continue
        with open(path, "rb") as fh:
            for line in fh:
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                rec = obj.get("record") if verdict == "reject" else obj
                if isinstance(rec, dict) and rec.get("id") in wanted:
                    facts[rec["id"]] = {"verdict": verdict, "scores": (rec.get("meta") or {}).get("scores") or {}}
    return facts


def run_agreement(run_dir: Path) -> list[dict]:
    """Agreement figures of every reviewed stage of a run (empty when nobody reviewed)."""
    reviews = Path(run_dir) / "reviews"
    manifest_path = Path(run_dir) / "manifest.json"
    if not reviews.is_dir() or not manifest_path.exists():
        return []
    from pipeline.review.decisions import load_log

    manifest = orjson.loads(manifest_path.read_bytes())
    cuts, out = thresholds(manifest), []
    for sid in manifest.get("stages") or {}:
        log = load_log(Path(run_dir), sid)
        if not log.lines:
            continue
        facts = scan_facts(Path(run_dir) / sid, set(log.record_ids()))
        out.append({"stage": sid, **stage_agreement(log.lines, facts, cuts)})
    return out


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def _k(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def agreement_html(run_dir: Path) -> str:
    """The report's agreement section (escaped HTML), or '' when the run has no reviews."""
    stages = run_agreement(run_dir)
    if not stages:
        return ""
    e = html.escape
    parts = ['<section id="agreement">', "<h2>Review agreement</h2>",
             '<p class="note">Accept and edit count as accept. Kappa: 1 is full agreement, 0 is chance.</p>']
    for s in stages:
        parts.append(f"<h3>{e(s['stage'])}: {s['reviewed']} records reviewed by {e(', '.join(s['reviewers']))}</h3>")
        if s["pairs"]:
            parts.append("<table><tr><th>reviewers</th><th>both decided</th><th>agree</th><th>kappa</th></tr>")
            for p in s["pairs"]:
                parts.append(f"<tr><td>{e(p['a'])} / {e(p['b'])}</td><td>{p['n']}</td>"
                             f"<td>{_pct(p['agree'])}</td><td>{_k(p['kappa'])}</td></tr>")
            parts.append("</table>")
        parts.append("<table><tr><th>reviewers vs</th><th>n</th><th>agree</th><th>kappa</th>"
                     "<th>both accept</th><th>people accept, it rejects</th>"
                     "<th>people reject, it accepts</th><th>both reject</th></tr>")
        for r in s["raters"]:
            t = r["table"]
            parts.append(f"<tr><td>{e(r['name'])}</td><td>{r['n']}</td><td>{_pct(r['agree'])}</td>"
                         f"<td>{_k(r['kappa'])}</td><td>{t['accept']['accept']}</td><td>{t['accept']['reject']}</td>"
                         f"<td>{t['reject']['accept']}</td><td>{t['reject']['reject']}</td></tr>")
        parts.append("</table>")
    parts.append("</section>")
    return "\n".join(parts)
