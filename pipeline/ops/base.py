"""What an op is (`OpSpec`), what it reads (`StageInput`) and what it can use (`StageContext`).

An op is a plain generator `fn(ctx, inputs, params) -> Iterator[Record | Rejected]` plus a
frozen pydantic `Params` model. The runner streams what it yields to the stage's files.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from pipeline.jsonl import read_jsonl
from pipeline.record import Record, Rejected

Item = Record | Rejected


class Params(BaseModel):
    """Base for op parameters: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ShardSteps:
    """A global op as map -> reduce -> apply over the shards of its one input (datatrove-style).

    `map(inp, params, folder)` writes what the decision needs of one shard into its folder;
    `reduce(shards_dir, n, params)` reads the n shards' maps and writes the decisions there;
    `apply(ctx, inp, params, offset)` yields the shard's items as the op would (`offset`: the
    index of the shard's first record in the whole input). The result equals the op's own.
    With `context`, map and reduce also get the StageContext first (an LLM client in map, the
    recipe's folder, counters): `map(ctx, inp, params, folder)`, `reduce(ctx, shards_dir, n, params)`.
    """

    map: Callable[..., None] | None  # None: the decision needs no map
    reduce: Callable[..., None]
    apply: Callable[..., Iterator[Item]]
    context: bool = False
    # shard sizes are rounded up to a multiple of `align(params)`, so that a model's batches in
    # map (padded together) are the very batches one process makes
    align: Callable[[Params], int] | None = None


@dataclass(frozen=True)
class OpSpec:
    """An op: its name, parameter model, version, generator and what it depends on.

    `version` is part of every stage fingerprint: bump it when the op's output changes.
    `path_params` name parameters holding local paths: they resolve against the recipe's folder
    and the fingerprint uses their content hash, not the path. `prompts` name prompt files
    (without `.md`) whose content is fingerprinted. `params_for` lets an op choose its model
    from the raw parameters (ingest picks its adapter's model).
    """

    name: str
    fn: Callable[..., Iterator[Item]]
    params: type[Params]
    version: int = 1
    doc: str = ""
    min_inputs: int = 1
    max_inputs: int | None = None
    path_params: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()
    uses_llm: bool = False
    params_for: Callable[[dict], type[Params]] | None = None
    prompts_for: Callable[[Params], tuple[str, ...]] | None = None
    package: str | None = None          # set for plugin ops (pipeline/plugins.py): distribution name
    package_version: str | None = None  # and version, both in the fingerprint
    # files of the run folder (relative paths) whose content enters the fingerprint, e.g. decisions
    run_files: Callable[[Params, tuple[str, ...]], tuple[str, ...]] | None = None
    # "record": each output depends on one input record only, so the stage may run as shards of
    # its input (pipeline/shards.py); "global": the op needs all its input at once (dedup, mix...)
    # (or a function of the params saying which, e.g. a local model that batches across records)
    sharding: Literal["record", "global"] | Callable[[Params], str] = "global"
    # a global op's distributed form: map each shard, decide at the driver, apply per shard
    shard_steps: ShardSteps | None = None
    # an op without inputs (ingest) that reads several local files: those files in read order, each
    # a shard (None: one piece); `(params, recipe_dir) -> list[Path] | None`
    input_files: Callable[[Params, Path | None], list[Path] | None] | None = None
    # recomputes a stage-level figure (a share, a mean) from the shards' summed counters
    merge_counters: Callable[[Counter], None] | None = None

    def model_for(self, raw: dict) -> type[Params]:
        return self.params_for(raw) if self.params_for else self.params

    def prompt_names(self, params: Params) -> tuple[str, ...]:
        return self.prompts_for(params) if self.prompts_for else self.prompts


@dataclass
class StageInput:
    """The kept records of an upstream stage; iterate as many times as needed."""

    stage_id: str
    path: Path
    count: int
    span: tuple[int, int] | None = None  # a shard's byte range of the file (pipeline/shards.py)

    def __iter__(self) -> Iterator[Record]:
        lines = read_span(self.path, *self.span) if self.span else (o for _, o in read_jsonl(self.path, trusted=True))
        for obj in lines:
            yield Record(obj["id"], obj["messages"], obj.get("meta") or {})


def read_span(path: Path, start: int, end: int) -> Iterator[Any]:
    """The JSON values of the stage-file lines in bytes [start, end) (written by the runner)."""
    return (value for _, value in lines_at(path, start, end))


def lines_at(path: Path, start: int, end: int) -> Iterator[tuple[int, Any]]:
    """(byte offset, JSON value) of each stage-file line in bytes [start, end)."""
    with open(path, "rb") as fh:
        fh.seek(start)
        pos = start
        while pos < end:
            raw = fh.readline()
            if not raw:
                return
            if raw.strip():
                yield pos, orjson.loads(raw)
            pos += len(raw)


@dataclass
class StageContext:
    """What a running op may use: its folder, counters, seeded randomness, run facts."""

    stage_id: str
    op: str
    stage_dir: Path
    run_dir: Path
    counters: Counter = field(default_factory=Counter)
    recipe_dir: Path | None = None
    upstream: list[dict] = field(default_factory=list)
    llm: Any = None
    progress: Callable[[int], None] = lambda n: None
    extra: dict = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def rng(self, seed: int | None) -> random.Random:
        """A Random seeded from the op's seed and the stage id (stable across runs)."""
        return random.Random(f"{seed}:{self.stage_id}" if seed is not None else self.stage_id)
