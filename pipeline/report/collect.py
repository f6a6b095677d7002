"""Read a run folder into what the report shows: the funnel with rejected examples, per-stage
samples, and the figures of the final stage's records.

Files are streamed line by line. Samples are seeded reservoirs over raw lines (only the chosen
lines are decoded), so time is one pass per file and memory is bounded by the sample sizes.
"""

from __future__ import annotations

import json
import math
import random
import re
from itertools import islice
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from pipeline.jsonl import read_jsonl
from pipeline.report.diversity import Diversity
from pipeline.report.figures import (RecordStats, key_figures, llm_op_names, llm_totals, numeric,
                                     stats_for_stages)
from pipeline.rundir import DATA, REJECTED, RunDir
from pipeline.status import open_run

_REASON = re.compile(rb'^\{"reason":"((?:[^"\\]|\\.)*)"')
_STANDARD = ("records_in", "records_out", "rejected", "generated", "consumed", "seconds", "rows_seen")


@dataclass
class Reason:
    code: str
    count: int
    examples: list[dict] = field(default_factory=list)


@dataclass
class StageView:
    id: str
    op: str
    state: str
    stats: dict
    inputs: list[str]
    reasons: list[Reason] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)


@dataclass
class ReportData:
    name: str
    run_dir: Path
    versions: dict
    stages: list[StageView]
    final: str | None
    records: RecordStats
    diversity: Diversity
    diversity_scope: str
    llm_rows: list[dict]
    llm: dict
    figures: list[tuple[str, str]]
    seed: int
    samples: int
    unreadable: int = 0


class Reservoir:
    """A uniform sample of at most `k` of the lines offered (Algorithm R), kept in offer order."""

    def __init__(self, k: int, rng: random.Random):
        self.k, self.rng, self.seen = k, rng, 0
        self.kept: list[tuple[int, bytes]] = []

    def offer(self, line: bytes) -> None:
        n, self.seen = self.seen, self.seen + 1
        if n < self.k:
            self.kept.append((n, line))
        else:
            j = self.rng.randint(0, n)
            if j < self.k:
                self.kept[j] = (n, line)

    def records(self) -> list[dict]:
        """The kept lines, decoded (undecodable ones left out), in offer order."""
        return [obj for _, line in sorted(self.kept) if (obj := decode(line)) is not None]


def sample_file(path: Path, k: int, rng: random.Random) -> list[dict]:
    """A uniform sample of `k` records of a JSONL file, in file order (Algorithm L: the lines
    between two picks are skipped by `islice` without touching them in Python)."""
    if not path.exists() or k <= 0:
        return []
    with open(path, "rb") as fh:
        kept = list(enumerate(islice(fh, k)))
        pos = len(kept) - 1
        w = _weight(rng, k)
        while len(kept) == k:
            skip = math.floor(math.log(max(rng.random(), 1e-300)) / math.log(1 - w))
            line = next(islice(fh, skip, skip + 1), None)
            if line is None:
                break
            pos += skip + 1
            kept[rng.randrange(k)] = (pos, line)
            w *= _weight(rng, k)
    return [obj for _, line in sorted(kept) if (obj := decode(line)) is not None]


def _weight(rng: random.Random, k: int) -> float:
    return min(math.exp(math.log(max(rng.random(), 1e-300)) / k), 1 - 1e-12)


def raw_lines(path: Path) -> Iterator[bytes]:
    if not path.exists():
        return
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield line


def decode(line: bytes) -> dict | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def reason_of(line: bytes) -> str:
    """The `reason` of a rejected line: read from its first bytes, else by decoding it."""
    m = _REASON.match(line)
    if m:
        return json.loads(b'"' + m.group(1) + b'"')
    obj = decode(line)
    return str(obj.get("reason", "unknown")) if obj else "unreadable"


def rejected_examples(path: Path, k: int, rng: random.Random) -> dict[str, Reservoir]:
    """Per counter name (`reason` without its `@` suffix): how many were rejected (`seen`) and up
    to `k` seeded-random examples."""
    found: dict[str, Reservoir] = {}
    for line in raw_lines(path):
        key = reason_of(line).split("@", 1)[0]
        if key not in found:
            found[key] = Reservoir(k, rng)
        found[key].offer(line)
    return found


def stage_view(rd: RunDir, sid: str, entry: dict, samples: int, examples: int, seed: int) -> StageView:
    stats = rd.stats(sid)
    view = StageView(sid, str(entry.get("op", "?")), rd.state(sid, entry.get("fingerprint")), stats,
                     list(entry.get("inputs", [])))
    found = rejected_examples(rd.file(sid, REJECTED), examples, random.Random(f"{seed}:rejected:{sid}"))
    counts = {k[len("dropped_"):]: v for k, v in stats.items() if k.startswith("dropped_") and numeric(v)}
    for code, res in found.items():
        counts.setdefault(code, res.seen)
    for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        view.reasons.append(Reason(code, count, found[code].records() if code in found else []))
    view.samples = sample_file(rd.file(sid, DATA), samples, random.Random(f"{seed}:sample:{sid}"))
    return view


def final_stage(rd: RunDir, stages: dict) -> str | None:
    """The last stage (in run order) that wrote records: the run's result."""
    with_data = [sid for sid in stages if rd.file(sid, DATA).exists()]
    return with_data[-1] if with_data else None


def survey(path: Path, rs: RecordStats) -> tuple[Diversity, Diversity, int]:
    """Feed every record of `path` to `rs`; return the diversity of generated and of all records,
    and the number of unreadable lines skipped (e.g. the torn last line of an interrupted stage)."""
    generated, everything, bad = Diversity(), Diversity(), 0
    for _, obj in read_jsonl(path, lenient=True, trusted=True):
        try:
            messages, meta = obj["messages"], obj.get("meta") or {}
            instruction = next((m["content"] for m in messages if m["role"] == "user"), "")
            is_gen = rs.observe(messages, meta)
        except (KeyError, TypeError, AttributeError):
            bad += 1
            continue
        everything.observe(instruction)
        if is_gen:
            generated.observe(instruction)
    return generated, everything, bad


def llm_row(view: StageView, llm_ops: frozenset[str]) -> dict | None:
    """The LLM usage of one stage, or None for a stage that made no requests and runs no LLM op."""
    st = view.stats
    if view.op not in llm_ops and not st.get("requests"):
        return None
    row = {"id": view.id, "op": view.op, **llm_totals([st])}
    # The LLM layer declares `retries` (every retry) and `failures` (requests given up); the
    # `retries_<cause>` counters break `retries` down and must not be added to it again.
    for key in ("retries", "failures"):
        row[key] = st[key] if numeric(st.get(key)) else 0
    row["other"] = {k: v for k, v in sorted(st.items())
                    if numeric(v) and k not in row and k not in _STANDARD and not k.startswith("dropped_")}
    return row


def collect(run_dir: Path, *, samples: int = 5, examples: int = 3, seed: int = 0) -> ReportData:
    rd, manifest = open_run(run_dir)
    entries: dict = manifest.get("stages") or {}
    views = [stage_view(rd, sid, e, samples, examples, seed) for sid, e in entries.items()]
    llm_ops = llm_op_names()
    rs = stats_for_stages({"id": sid, "op": e.get("op")} for sid, e in entries.items())
    final = final_stage(rd, entries)
    generated, everything, unreadable = (survey(rd.file(final, DATA), rs) if final
                                         else (Diversity(), Diversity(), 0))
    scope = ("generated records" if generated.n
             else "records (none was generated in this run, so every record counts)")
    llm_rows = [row for v in views if (row := llm_row(v, llm_ops))]
    llm = llm_totals(v.stats for v in views)
    return ReportData(str(manifest.get("name") or rd.root.name), rd.root, manifest.get("versions") or {},
                      views, final, rs, generated if generated.n else everything, scope, llm_rows, llm,
                      key_figures(rs, llm), seed, samples, unreadable)
