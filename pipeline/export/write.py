"""Write an export folder: data files (optionally split), `dataset_info.json` and the card.

Every file is written to a temporary name and renamed into place, so a crash never leaves a
half-written export behind a complete-looking name.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import jsonlines

from pipeline.errors import ConfigError
from pipeline.export.card import render_card
from pipeline.export.formats import FORMATS, dataset_info, shape
from pipeline.jsonl import atomic_write_json, atomic_write_text
from pipeline.record import Record
from pipeline.report.figures import RecordStats, stats_for_stages

_dumps = functools.partial(json.dumps, ensure_ascii=False)


@dataclass
class ExportSummary:
    """What an export wrote; also the card's figures."""

    name: str
    fmt: str
    splits: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    sources: Counter = field(default_factory=Counter)
    licenses: dict[str, str] = field(default_factory=dict)
    stages: Counter = field(default_factory=Counter)
    langs: Counter = field(default_factory=Counter)
    has_system: bool = False
    turns: Counter = field(default_factory=Counter)
    figures: RecordStats = field(default_factory=RecordStats)

    def observe(self, rec: Record) -> None:
        self.figures.observe(rec.messages, rec.meta)
        src = str(rec.meta.get("source", "unknown"))
        self.sources[src] += 1
        self.licenses.setdefault(src, str(rec.meta.get("license", "unknown")))
        self.stages[str(rec.meta.get("stage", "unknown"))] += 1
        if rec.meta.get("lang"):
            self.langs[str(rec.meta["lang"])] += 1
        self.has_system = self.has_system or rec.system is not None
        self.turns[len(rec.turns("user"))] += 1


def validation_indices(n: int, validation: float | int | None, seed: int) -> set[int]:
    """Exactly round(n * fraction) (or `validation` records, when >= 1), chosen by seed."""
    if not validation:
        return set()
    k = int(validation) if validation >= 1 else round(n * validation)
    if k >= n:
        raise ConfigError(f"export: validation of {validation} leaves no training records (of {n})")
    return set(random.Random(seed).sample(range(n), k))


def write_export(records: Callable[[], Iterable[Record]], out_dir: Path, fmt: str, *, name: str,
                 validation: float | int | None = None, seed: int = 0, card: bool = True,
                 run_info: dict | None = None) -> ExportSummary:
    """Write `records()` (called twice: survey, then write) to `out_dir` in `fmt`."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary(name, fmt, figures=stats_for_stages((run_info or {}).get("stages") or []))
    n = 0
    for rec in records():
        summary.observe(rec)
        n += 1
    val = validation_indices(n, validation, seed)
    split_of = (lambda i: "validation" if i in val else "train")
    shape_fmt = fmt if fmt in ("alpaca", "sharegpt") else "messages"
    ext = "parquet" if fmt == "parquet" else "jsonl"
    names = ["train"] + (["validation"] if val else [])
    tmp = {s: out_dir / f".{s}.jsonl.tmp" for s in names}
    writers = {s: jsonlines.open(tmp[s], mode="w", dumps=_dumps, compact=True) for s in names}
    try:
        for i, rec in enumerate(records()):
            split = split_of(i)
            writers[split].write(shape(rec, shape_fmt, summary.has_system))
            summary.splits[split] = summary.splits.get(split, 0) + 1
    finally:
        for w in writers.values():
            w.close()
    for s in names:
        summary.splits.setdefault(s, 0)
    if fmt in ("hf", "parquet"):
        summary.files = _write_arrow(tmp, out_dir, fmt)
    else:
        for s in names:
            os.replace(tmp[s], out_dir / f"{s}.{ext}")
        summary.files = [f"{s}.{ext}" for s in names]
    main_file = summary.files[0] if fmt != "hf" else "hf"
    atomic_write_json(out_dir / "dataset_info.json",
                      {name: dataset_info(shape_fmt, main_file, summary.has_system)})
    if card:
        atomic_write_text(out_dir / "README.md", render_card(summary, run_info or {}))
    return summary


def _write_arrow(tmp: dict[str, Path], out_dir: Path, fmt: str) -> list[str]:
    import datasets

    cache = out_dir / ".hf_cache.tmp"
    try:
        parts = {s: datasets.Dataset.from_json(str(p), cache_dir=str(cache)) for s, p in tmp.items()}
        if fmt == "parquet":
            for s, ds in parts.items():
                target = out_dir / f".{s}.parquet.tmp"
                ds.to_parquet(str(target))
                os.replace(target, out_dir / f"{s}.parquet")
            return [f"{s}.parquet" for s in parts]
        staging = out_dir / ".hf.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        datasets.DatasetDict(parts).save_to_disk(str(staging))
        shutil.rmtree(out_dir / "hf", ignore_errors=True)
        os.replace(staging, out_dir / "hf")
        return ["hf"]
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        for p in tmp.values():
            p.unlink(missing_ok=True)
