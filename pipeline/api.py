"""The Python API: run a recipe, run one op, read a run folder. The CLI's own code underneath.

    from pipeline import run_recipe, run_op, open_run

Everything here goes through the same runner as `instructpipe run` and `instructpipe stage`:
the same validation (a bad recipe raises `ConfigError` with the same message), the same run
folder, fingerprints, resume, request cache, budgets and rejected files. Errors you can cause
are `pipeline.errors.UserError` subclasses (`ConfigError`, `InputError`, `LLMError`,
`BudgetError`); anything else is a bug.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import orjson

from pipeline.errors import ConfigError, InputError
from pipeline.jsonl import read_jsonl
from pipeline.record import Record
from pipeline.rundir import DATA, REJECTED, RunDir

RecordLike = Record | Mapping[str, Any]
Source = str | Path | Iterable[RecordLike]


@dataclass(frozen=True)
class StageView:
    """One stage of a run folder: its state, counters and files."""

    run: "Run"
    id: str
    op: str
    state: str
    stats: dict

    @property
    def output(self) -> Path:
        return self.run.rd.file(self.id, DATA)

    @property
    def rejected_file(self) -> Path:
        return self.run.rd.file(self.id, REJECTED)

    def records(self) -> Iterator[Record]:
        """The records the stage kept, streamed from its `data.jsonl`."""
        if self.output.exists():
            for _, obj in read_jsonl(self.output, trusted=True):
                yield Record(obj["id"], obj["messages"], obj.get("meta") or {})

    def rejected(self) -> Iterator[dict]:
        """The stage's rejected items: `{"reason", "detail", "record" or "raw", ...}`."""
        if self.rejected_file.exists():
            for _, obj in read_jsonl(self.rejected_file, trusted=True):
                yield obj


@dataclass
class Run:
    """A run folder, read as `instructpipe status` reads it."""

    path: Path
    name: str
    rd: RunDir = field(repr=False)
    manifest: dict = field(repr=False)

    @property
    def stages(self) -> list[StageView]:
        from pipeline.status import stage_rows

        ops = {sid: entry.get("op") for sid, entry in self.manifest["stages"].items()}
        return [StageView(self, row["id"], ops[row["id"]], row["state"], self.rd.stats(row["id"]))
                for row in stage_rows(self.path)]

    def stage(self, stage_id: str | None = None) -> StageView:
        """A stage by id; without an id, the recipe's last stage."""
        stages = self.stages
        if stage_id is None:
            return stages[-1]
        for st in stages:
            if st.id == stage_id:
                return st
        raise InputError(f"{self.path}: no stage {stage_id!r} (stages: {', '.join(s.id for s in stages)})")

    def records(self, stage_id: str | None = None) -> Iterator[Record]:
        return self.stage(stage_id).records()

    def status(self) -> list[dict]:
        """What `instructpipe status RUN --json` prints."""
        from pipeline.status import stage_rows

        return stage_rows(self.path)


def open_run(path: str | Path) -> Run:
    """Read a run folder (raises InputError when it is not one)."""
    from pipeline.status import open_run as open_folder

    rd, manifest = open_folder(path)
    return Run(rd.root, manifest.get("name") or rd.root.name, rd, manifest)


def run_recipe(recipe: str | Path | Mapping, out: str | Path | None = None, *, folder: str | Path | None = None,
               only: str | None = None, until: str | None = None, force: Iterable[str] = (),
               dry_run: bool = False, model: str | None = None, base_url: str | None = None,
               concurrency: int | None = None) -> Run:
    """Run a recipe like `instructpipe run`; return its run folder.

    `recipe` is a YAML file, a bundled recipe's name (`quickstart`) or a dict with the same
    content; a dict's relative paths resolve against `folder` (default: the current folder).
    `out` defaults to `outputs/<name>`. Running it again skips done stages and resumes.
    """
    from pipeline.cli import llm_overrides
    from pipeline.recipe import build_recipe, load_recipe
    from pipeline.resources import find_recipe
    from pipeline.runner import RunOptions, Runner

    if isinstance(recipe, Mapping):
        rec = build_recipe(dict(recipe), Path(folder or Path.cwd()).resolve())
    else:
        path = find_recipe(str(recipe))
        if path is None:
            raise ConfigError(f"{recipe}: recipe not found")
        rec = load_recipe(path)
    out_dir = Path(out) if out is not None else Path("outputs") / rec.name
    opts = RunOptions(only, until, tuple(force), dry_run, llm_overrides(model, base_url, concurrency))
    Runner(rec, out_dir, opts).run()
    return open_run(out_dir)


@dataclass
class OpResult:
    """What `run_op` made: kept records, rejected items (with reasons) and the stage's counters."""

    records: list[Record]
    rejected: list[dict]
    stats: dict
    run: Run | None = None


def run_op(op: str, *inputs: Source, workdir: str | Path | None = None, **params: Any) -> OpResult:
    """Run one op like `instructpipe stage`, over records in memory or JSONL files.

    Each input is a JSONL file of records, or an iterable of `Record`s or dicts with
    `messages` (and optionally `id`, `meta`). `params` are the op's parameters (and `llm`, the
    stage's `llm:` block). With `workdir` the stage's state (run folder, request cache) stays
    there and the same call resumes; without it a temporary folder is used and removed.
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="instructpipe-") as tmp:
            result = _run_op(op, inputs, Path(tmp), params)
            result.run = None  # its folder is gone
            return result
    return _run_op(op, inputs, Path(workdir), params)


def _run_op(op: str, inputs: tuple[Source, ...], workdir: Path, params: dict) -> OpResult:
    from pipeline.adhoc import run_adhoc, state_dir

    workdir.mkdir(parents=True, exist_ok=True)
    paths = [_as_file(src, workdir / f"input{n}.jsonl") for n, src in enumerate(inputs, start=1)]
    out = workdir / "output.jsonl"
    run_adhoc(op, paths, out, params, {})
    run = open_run(state_dir(out))
    main = run.stage("main")
    return OpResult(list(main.records()), list(main.rejected()), main.stats, run)


def _as_file(src: Source, path: Path) -> Path:
    """A JSONL file holding `src` (a file given as a path is used as it is)."""
    if isinstance(src, (str, Path)):
        return Path(src)
    if isinstance(src, (bytes, Mapping, Record)):
        raise ConfigError("run_op: an input is a JSONL path or an iterable of records, not one record")
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        for i, rec in enumerate(src):
            if not isinstance(rec, (Record, Mapping)):
                raise ConfigError(f"run_op: input item {i} is a {type(rec).__name__}, not a record or dict")
            obj = rec.to_dict() if isinstance(rec, Record) else dict(rec)
            fh.write(orjson.dumps(obj) + b"\n")
    tmp.replace(path)
    return path
