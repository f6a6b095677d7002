"""Write an export folder: data files (optionally split), `dataset_info.json` and the card.

The whole export is written in a staging folder beside the target and swapped in, so a crash
never leaves a half-written export, and a re-export with other settings leaves no stale file.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import jsonlines

from pipeline.errors import ConfigError
from pipeline.export.card import render_card
from pipeline.export.formats import FORMATS, dataset_info_entries, shape
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
    llamafactory: dict = field(default_factory=dict)  # the dataset_info.json entries, if any

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


# Every name an export may write; anything else in the folder is the user's and is never removed.
SPLITS = ("train", "validation")
OWNED = {"README.md", "dataset_info.json", "hf"} | {
    f"{split}{suffix}" for split in SPLITS for suffix in (".jsonl", ".parquet", "_llamafactory.jsonl")}


def validation_ids(ids: list[str], validation: float | int | None, seed: int) -> set[str]:
    """Exactly round(n * fraction) (or `validation`, when >= 1) of the n distinct record ids, chosen
    by seed; a record that occurs twice goes with its id, so no record is in both splits."""
    if not validation:
        return set()
    unique = list(dict.fromkeys(ids))
    n = len(unique)
    k = int(validation) if validation >= 1 else round(n * validation)
    if k >= n:
        raise ConfigError(f"export: validation of {validation} leaves no training records (of {n})")
    return {unique[i] for i in random.Random(seed).sample(range(n), k)}


def write_export(records: Callable[[], Iterable[Record]], out_dir: Path, fmt: str, *, name: str,
                 validation: float | int | None = None, seed: int = 0, card: bool = True,
                 run_info: dict | None = None) -> ExportSummary:
    """Write `records()` (called twice: survey, then write) to `out_dir` in `fmt`.

    The export is written whole in a folder beside `out_dir` and swapped in, so the folder holds
    exactly this export's files (no split or format left from an earlier one) or the earlier export.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    _check_folder(out_dir)
    summary = ExportSummary(name, fmt, figures=stats_for_stages((run_info or {}).get("stages") or []))
    ids = []
    for rec in records():
        summary.observe(rec)
        ids.append(rec.id)
    val = validation_ids(ids, validation, seed)
    staging = out_dir.with_name(f".{out_dir.name}.export.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _write_files(records, staging, fmt, val, summary)
        if card:
            atomic_write_text(staging / "README.md", render_card(summary, run_info or {}))
        _swap(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _check_folder(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: is a file; an export writes a folder")
    leftover = re.compile(r"^\..+\.tmp$")  # our own temporary names, from an interrupted export
    foreign = sorted(p.name for p in out_dir.iterdir()
                     if p.name not in OWNED and not leftover.match(p.name)) if out_dir.is_dir() else []
    if foreign:
        raise ConfigError(f"{out_dir}: holds files an export does not write ({', '.join(foreign[:5])}); "
                          "export to a new or empty folder, or to an earlier export's folder")


def _swap(staging: Path, out_dir: Path) -> None:
    old = out_dir.with_name(f".{out_dir.name}.old.tmp")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(staging, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _write_files(records: Callable[[], Iterable[Record]], folder: Path, fmt: str, val: set[str],
                 summary: ExportSummary) -> None:
    shape_fmt = fmt if fmt in ("alpaca", "sharegpt", "dpo") else "messages"
    names = ["train"] + (["validation"] if val else [])
    shapes = [shape_fmt] + (["llamafactory_dpo"] if fmt == "dpo" else [])
    tmp = {(s, f): folder / f".{s}.{f}.jsonl.tmp" for s in names for f in shapes}
    writers = {key: jsonlines.open(path, mode="w", dumps=_dumps, compact=True) for key, path in tmp.items()}
    try:
        for rec in records():
            split = "validation" if rec.id in val else "train"
            for f in shapes:
                writers[(split, f)].write(shape(rec, f, summary.has_system))
            summary.splits[split] = summary.splits.get(split, 0) + 1
    finally:
        for w in writers.values():
            w.close()
    for s in names:
        summary.splits.setdefault(s, 0)
    if fmt in ("hf", "parquet"):
        summary.files = _write_arrow({s: tmp[(s, shape_fmt)] for s in names}, folder, fmt)
    else:
        for (s, f), path in tmp.items():
            os.replace(path, folder / (f"{s}.jsonl" if f == shape_fmt else f"{s}_llamafactory.jsonl"))
        summary.files = [f"{s}.jsonl" for s in names]
    if fmt == "hf":  # LLaMA-Factory cannot read a save_to_disk folder: no entry rather than a broken one
        return
    lf_files = ({s: f"{s}_llamafactory.jsonl" for s in names} if fmt == "dpo"
                else dict(zip(names, summary.files)))
    summary.llamafactory = dataset_info_entries(summary.name, shape_fmt, lf_files, summary.has_system)
    atomic_write_json(folder / "dataset_info.json", summary.llamafactory)


def _write_arrow(tmp: dict[str, Path], out_dir: Path, fmt: str) -> list[str]:
    import datasets

    cache = out_dir / ".hf_cache.tmp"
    try:
        parts = {s: datasets.Dataset.from_json(str(p), cache_dir=str(cache)) for s, p in tmp.items()}
        # out_dir is the staging folder, swapped in whole: files can take their final names here
        if fmt == "parquet":
            for s, ds in parts.items():
                ds.to_parquet(str(out_dir / f"{s}.parquet"))
            return [f"{s}.parquet" for s in parts]
        datasets.DatasetDict(parts).save_to_disk(str(out_dir / "hf"))
        return ["hf"]
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        for p in tmp.values():
            p.unlink(missing_ok=True)
