"""`instructpipe status`: the state and counters of every stage of a run folder."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import InputError
from pipeline.rundir import DATA, REJECTED, STAT_FIELDS, RunDir, count_lines
from pipeline.shards import shards_progress


def open_run(run_dir: str | Path) -> tuple[RunDir, dict]:
    """The run folder and its manifest, or an InputError saying why it is not one."""
    rd = RunDir(run_dir)
    if not rd.root.is_dir():
        raise InputError(f"{rd.root}: no such run folder")
    manifest = rd.manifest()
    if manifest is None:
        raise InputError(f"{rd.root}: not a run folder (no manifest.json)")
    return rd, manifest


def stage_rows(run_dir: str | Path) -> list[dict]:
    rd, manifest = open_run(run_dir)
    rows = []
    for sid, entry in manifest["stages"].items():
        state = rd.state(sid, entry.get("fingerprint"))
        stats = rd.stats(sid)
        row = {"id": sid, "op": entry.get("op"), "state": state}
        for key in STAT_FIELDS:
            row[key] = stats.get(key, 0)
        if state == "partial" and stats.get("state") != "partial":
            row["records_out"] = count_lines(rd.file(sid, DATA))
            row["rejected"] = count_lines(rd.file(sid, REJECTED))
        row["cost_usd"] = round(float(row["cost_usd"]), 6)
        row["output"] = str(rd.file(sid, DATA))
        shards = shards_progress(rd.stage_dir(sid))
        if shards:
            row["shards_done"], row["shards_total"] = shards
        failed = rd.read(sid, "failed.json") if state == "failed" else None
        if failed:
            row["error"] = failed.get("error")
        rows.append(row)
    return rows


def render_table(rows: list[dict]) -> str:
    header = ["stage", "op", "state", "in", "out", "rejected", "requests", "cached", "cost_usd"]
    body = [[r["id"], r["op"], r["state"], r["records_in"], r["records_out"], r["rejected"],
             r["requests"], r["cached"], f"{r['cost_usd']:.4f}"] for r in rows]
    if any("shards_total" in r for r in rows):  # a run with --workers: shards done/total
        header.append("shards")
        for line, r in zip(body, rows):
            line.append(f"{r['shards_done']}/{r['shards_total']}" if "shards_total" in r else "-")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)) for row in [header] + body]
    return "\n".join(line.rstrip() for line in lines)
