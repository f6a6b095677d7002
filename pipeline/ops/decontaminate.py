"""`decontaminate`: drop records that share a word n-gram (default 13) with a benchmark test set.

Benchmarks come from `benchmark` (a file, or a folder whose files are one benchmark each, named
by their path without suffix) and/or `reference_inputs` (input stages holding benchmark
records, e.g. an ingested SNI test split; they are consumed, not passed on). A file may be
canonical records, any JSON/JSONL rows (every string value counts, e.g. the WizardLM test
set or a Super-NaturalInstructions task file) or `.txt` with one text per line. Tokens are
normalised words, and single characters for CJK, so 13-grams work for Chinese too; a
benchmark text shorter than `ngram` tokens cannot match. The reason names the benchmark and
the shared n-gram.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import xxhash
from pydantic import Field, model_validator

from pipeline.dedup.text import TextField, plain_text, tokens
from pipeline.errors import ConfigError, InputError
from pipeline.jsonl import iter_json_rows, sniff_json_kind
from pipeline.ops.base import Item, OpSpec, Params, ShardSteps, StageContext, StageInput
from pipeline.record import Record, Rejected

SUFFIXES = {".json", ".jsonl", ".txt"}


class DecontaminateParams(Params):
    benchmark: str | None = Field(None, description="benchmark file, or folder of files (one benchmark each)")
    reference_inputs: list[str] = Field(default_factory=list, description="input stages holding benchmark records")
    ngram: int = Field(13, ge=3, le=64, description="tokens per shared n-gram")
    field: TextField = Field("conversation", description="text of a record checked")

    @model_validator(mode="after")
    def _some_benchmark(self) -> "DecontaminateParams":
        if not self.benchmark and not self.reference_inputs:
            raise ValueError("give `benchmark` (a file or folder) and/or `reference_inputs` (stage ids)")
        return self


def ngrams(text: str, n: int) -> list[str]:
    toks = tokens(text)
    return [" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)]


def hashes(grams: list[str]) -> np.ndarray:
    return np.fromiter((xxhash.xxh3_64_intdigest(g.encode("utf-8")) for g in grams), dtype=np.uint64, count=len(grams))


def strings(value: Any) -> Iterator[str]:
    """Every string inside a decoded JSON value (a record's messages give their contents)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in (value["messages"] if isinstance(value.get("messages"), list) else value.values()):
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def file_texts(path: Path) -> Iterator[str]:
    if path.suffix == ".txt":
        with open(path, encoding="utf-8-sig") as fh:
            yield from (line for line in fh if line.strip())
    elif path.suffix == ".json" and sniff_json_kind(path) == "object":
        try:
            yield from strings(json.loads(path.read_text(encoding="utf-8-sig")))
        except json.JSONDecodeError:  # not one object: JSONL named .json
            for _, row in iter_json_rows(path):
                yield from strings(row)
    else:
        for _, row in iter_json_rows(path):
            yield from strings(row)


def benchmark_files(path: Path) -> list[tuple[str, Path]]:
    if path.is_file():
        return [(path.stem, path)]
    found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    if not found:
        raise InputError(f"{path}: no {', '.join(sorted(SUFFIXES))} files in this benchmark folder")
    return [(str(p.relative_to(path).with_suffix("")), p) for p in found]


@dataclass
class NgramIndex:
    """Sorted n-gram hashes of all benchmarks and, for each, the benchmark it came from."""

    keys: np.ndarray
    owner: np.ndarray
    names: list[str]

    def first_match(self, grams: list[str]) -> tuple[str, str] | None:
        if not grams or not len(self.keys):
            return None
        h = hashes(grams)
        pos = np.minimum(np.searchsorted(self.keys, h), len(self.keys) - 1)
        hit = np.flatnonzero(self.keys[pos] == h)
        if not len(hit):
            return None
        return self.names[int(self.owner[pos[hit[0]]])], grams[int(hit[0])]


def build_index(sources: list[tuple[str, Iterator[str]]], n: int) -> NgramIndex:
    keys, owner, names = [], [], []
    for name, texts in sources:
        found = [hashes(ngrams(t, n)) for t in texts]
        h = np.unique(np.concatenate(found)) if found else np.empty(0, np.uint64)
        keys.append(h)
        owner.append(np.full(len(h), len(names), dtype=np.int32))
        names.append(name)
    k = np.concatenate(keys) if keys else np.empty(0, np.uint64)
    o = np.concatenate(owner) if owner else np.empty(0, np.int32)
    order = np.argsort(k, kind="stable")
    return NgramIndex(k[order], o[order], names)


def check_references(p: DecontaminateParams, ids: list[str]) -> None:
    unknown = [r for r in p.reference_inputs if r not in ids]
    if unknown or len(set(p.reference_inputs)) == len(ids):
        raise ConfigError(f"decontaminate: reference_inputs {p.reference_inputs} must name some, not all, "
                          f"of the inputs {ids}")


def run(ctx: StageContext, inputs: list[StageInput], p: DecontaminateParams) -> Iterator[Item]:
    check_references(p, [i.stage_id for i in inputs])
    refs = [i for i in inputs if i.stage_id in p.reference_inputs]
    sources = [(name, file_texts(path)) for name, path in benchmark_files(Path(p.benchmark))] if p.benchmark else []
    sources += [(r.stage_id, (m["content"] for rec in r for m in rec.messages)) for r in refs]
    index = build_index(sources, p.ngram)
    ctx.count("benchmark_ngrams", len(index.keys))
    ctx.count("consumed", sum(r.count for r in refs))
    for inp in inputs:
        if inp not in refs:
            yield from screen(ctx, inp, index, p)


def screen(ctx: StageContext, records: Iterator[Record], index: NgramIndex, p: DecontaminateParams) -> Iterator[Item]:
    for rec in records:
        match = index.first_match(ngrams(plain_text(rec, p.field), p.ngram))
        if match is None:
            yield rec
            continue
        ctx.count(f"matched_{match[0]}")
        yield Rejected("contaminated", f"shares the {p.ngram}-gram {match[1]!r} with benchmark {match[0]}",
                       record=rec, extra={"benchmark": match[0], "ngram": match[1]})


# -- over shards (`run --workers N`, one input): the index is built once, by the driver, into the
# shards folder as plain .npy arrays; each worker memory-maps them read-only, so a node holds one
# copy of the index in its page cache however many workers and shards screen against it
KEYS, OWNER, NAMES = "benchmark_keys.npy", "benchmark_owner.npy", "benchmark_names.json"


def build_shared(shards: Path, n: int, p: DecontaminateParams) -> None:
    if p.reference_inputs:  # a sharded stage has one input, so no reference input beside it
        raise ConfigError(f"decontaminate: reference_inputs {p.reference_inputs} must name some, not all, "
                          "of the inputs")
    sources = [(name, file_texts(path)) for name, path in benchmark_files(Path(p.benchmark))] if p.benchmark else []
    index = build_index(sources, p.ngram)
    np.save(shards / KEYS, index.keys)
    np.save(shards / OWNER, index.owner)
    (shards / NAMES).write_text(json.dumps(index.names))


def shared_index(shards: Path) -> NgramIndex:
    return NgramIndex(np.load(shards / KEYS, mmap_mode="r"), np.load(shards / OWNER, mmap_mode="r"),
                      json.loads((shards / NAMES).read_text()))


def screen_shard(ctx: StageContext, inp: StageInput, p: DecontaminateParams, offset: int) -> Iterator[Item]:
    index = shared_index(ctx.stage_dir.parent)
    if offset == 0:  # stage-level figures: counted once, by the first shard
        ctx.count("benchmark_ngrams", len(index.keys))
        ctx.count("consumed", 0)
    yield from screen(ctx, inp, index, p)


SPEC = OpSpec(
    name="decontaminate", fn=run, params=DecontaminateParams, version=1, min_inputs=1,
    shard_steps=ShardSteps(None, build_shared, screen_shard),
    path_params=("benchmark",),
    doc="Drop records sharing a word n-gram (default 13) with benchmark test sets (files or input stages).",
)
