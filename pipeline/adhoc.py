"""Ad hoc runs from the CLI (`stage`, `ingest`, `export`) through the same runner as recipes.

`instructpipe stage OP -i IN -o OUT` builds a small recipe (one ingest per input, then OP) whose
run folder is `OUT.run/`, beside OUT; running the same command again resumes it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Iterator

import yaml

from pipeline.errors import ConfigError, InputError
from pipeline.jsonl import read_jsonl
from pipeline.progress import say
from pipeline.ops import get_op
from pipeline.recipe import build_recipe, validate_params
from pipeline.report.figures import llm_totals
from pipeline.rundir import DATA, REJECTED, RunDir
from pipeline.runner import RunOptions, Runner


def state_dir(out: Path) -> Path:
    return out.with_name(out.name + ".run")


def input_ids(inputs: list[Path]) -> list[str]:
    """Stage ids for `-i` files: their stems (`a.jsonl` -> `a`), so `-p caps={a: 10}` names them;
    made safe as ids, and unique (`a`, `a_2`); `main` is the op's own stage."""
    ids: list[str] = []
    for path in inputs:
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem).lstrip("_.-") or "input"
        sid, n = base, 1
        while sid in ids or sid == "main":
            n += 1
            sid = f"{base}_{n}"
        ids.append(sid)
    return ids


def check_params(op: str, params: dict) -> None:
    """Validate `-p` values before any work, with errors in the words the user typed."""
    if "id" in params or "op" in params or "inputs" in params:
        raise ConfigError("-p cannot set id, op or inputs")
    spec = get_op(op)
    problems: list[str] = []
    raw = {k: v for k, v in params.items() if k != "llm"}
    validate_params(spec, raw, "@", Path.cwd(), problems)
    if problems:
        raise ConfigError("; ".join(_as_option(p, params) for p in problems))


def _as_option(problem: str, params: dict) -> str:
    # validate_params names a problem `@.key: ...`; say `-p key: ...` (with the value when it is bad)
    where, _, why = problem.partition(": ")
    key = where.removeprefix("@.").removeprefix("@")
    top = key.split(".")[0]
    if why.startswith("unknown key"):
        return f"-p {key}: unknown parameter{why[len('unknown key'):]}"
    shown = f"{top}={_plain(params[top])}" if top in params else key
    return f"-p {shown}: {why}" if top == key else f"-p {shown}: {key}: {why}"


def _plain(value: object) -> str:
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...")


def run_adhoc(op: str, inputs: list[Path], out: Path, params: dict, llm: dict) -> None:
    check_params(op, params)
    stages = []
    for sid, path in zip(input_ids(inputs), inputs):
        if not path.exists():
            raise InputError(f"{path}: no such file")
        stages.append({"id": sid, "op": "ingest", "source": "messages", "path": str(path.resolve())})
    main = {"id": "main", "op": op, "inputs": [s["id"] for s in stages], **params}
    recipe = build_recipe({"name": "stage", "stages": stages + [main]}, Path.cwd())
    run_dir = state_dir(out)
    Runner(recipe, run_dir, RunOptions(llm_overrides=llm)).run()
    copy_atomic(run_dir / "main" / DATA, out)
    stats = RunDir(run_dir).stats("main")
    say(f"wrote {out}: {stats.get('records_out', 0)} records; "
        f"{stats.get('rejected', 0)} rejected in {run_dir / 'main' / REJECTED}")


def copy_atomic(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def final_stage(run_dir: Path) -> tuple[Path, dict]:
    """The data file of a run folder's last stage, and the run's funnel for the card."""
    rd = RunDir(run_dir)
    manifest = rd.manifest()
    if not manifest:
        raise InputError(f"{run_dir}: not a run folder (no manifest.json)")
    stages = list(manifest["stages"].items())
    last_id, last = stages[-1]
    if last.get("state") != "done":
        raise InputError(f"{run_dir}: its last stage {last_id!r} is not done; finish the run first")
    funnel = [{"id": sid, "op": e["op"], "records_in": e.get("records_in", 0),
               "records_out": e.get("records_out", 0), "rejected": e.get("rejected", 0),
               "reasons": {k[8:]: v for k, v in rd.stats(sid).items() if k.startswith("dropped_")}}
              for sid, e in stages]
    llm = llm_totals(rd.stats(sid) for sid, _ in stages)
    return rd.file(last_id, DATA), {"recipe": manifest.get("name"), "stages": funnel, "llm": llm}


def export_cli(source: Path, fmt: str, out: Path, validation: float | None, seed: int,
               name: str | None) -> None:
    from pipeline.export.formats import FORMATS
    from pipeline.export.write import write_export
    from pipeline.ops.export import complete_or_reason
    from pipeline.record import Record

    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt}: unknown export format (known: {', '.join(FORMATS)})")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"-o {out}: is a file; export writes a folder")
    run_info: dict = {}
    if source.is_dir():
        data, run_info = final_stage(source)
        run_info["report"] = os.path.relpath(source / "report.html", out)
    elif source.is_file():
        data = source
    else:
        raise InputError(f"{source}: no such file or run folder")
    skipped: dict[str, int] = {}

    def records() -> Iterator[Record]:
        # the same rule as the `export` op (complete examples; for dpo, a rejected answer too)
        skipped.clear()
        for lineno, obj in read_jsonl(data):
            rec = Record.from_dict(obj, where=f"{data}:{lineno}")
            bad = complete_or_reason(rec, fmt)
            if bad:
                skipped[bad.reason] = skipped.get(bad.reason, 0) + 1
                continue
            yield rec

    if not any(True for _ in records()):
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
        raise InputError(f"{data}: no record to export in format {fmt}"
                         + (f" (skipped: {reasons})" if reasons else " (the file is empty)"))
    summary = write_export(records, out, fmt, name=name or run_info.get("recipe") or data.stem,
                           validation=validation, seed=seed, run_info=run_info)
    counts = ", ".join(f"{k} {v}" for k, v in summary.splits.items())
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
    say(f"wrote {out}: {counts}" + (f"; skipped: {reasons}" if reasons else ""))
