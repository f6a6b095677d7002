"""FLAN Collection data in its three published shapes, detected per row:
`{inputs, targets, task_name, task_source, template_type}` records, the header-less CoT TSV
(question, answer, rationale) and T0-templated `{prompt, completion}` lines.

`template_types` and `task_sources` select rows; `submix_weights` shares `limit` between task
sources (FLAN mixture weights), first rows or a seeded sample per source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Literal

from pydantic import Field, model_validator

from pipeline.adapters.base import (AdapterParams, FieldError, Source, bad_line, finish,
                                    need_object, put_meta, read_rows, read_tsv_columns, reject_row,
                                    selected, text)
from pipeline.errors import ConfigError
from pipeline.ops.base import Item, StageContext
from pipeline.record import Rejected

NAME = "flan"
DESCRIPTION = "FLAN Collection records (inputs/targets), FLAN CoT TSV, T0-templated prompt/completion"
COT_COLUMNS = ("question", "answer", "rationale")
EOT = "<|endoftext|>"


class Params(AdapterParams):
    template_types: list[Literal["zs_opt", "zs_noopt", "fs_opt", "fs_noopt"]] | None = Field(
        None, description="keep only these template types")
    task_sources: list[str] | None = Field(
        None, description="keep only these task sources (flan, t0, niv2, cot, dialog)")
    submix_weights: dict[str, float] | None = Field(
        None, description="task source -> weight; shares `limit` rows between sources")
    cot_trigger: str = Field("Let's think step by step.", description="appended to CoT questions ('' for none)")
    cot_answer_prefix: str = Field("So the answer is", description="joins a CoT rationale and its answer")

    @model_validator(mode="after")
    def _weights(self) -> "Params":
        if self.submix_weights and any(w < 0 for w in self.submix_weights.values()):
            raise ValueError("submix_weights must not be negative")
        return self


def read(src: Source, params: Params, ctx: StageContext) -> Iterator[Item]:
    if params.submix_weights and getattr(params, "limit", None) is None:
        raise ConfigError("flan: submix_weights need `limit` (the size of the mixture)")
    raw = src.raw_rows() if src.hub else file_rows(src)
    if params.submix_weights:
        raw = weighted(selected(raw, selector(params), ctx), params, ctx)
        rows = src.taken(raw, sample=False)
    else:
        rows = src.taken(raw, select=selector(params))
    for where, row in rows:
        yield bad_line(where, row) or convert(row, where, params, src)


def file_rows(src: Source) -> Iterator[tuple[str, Any]]:
    """Rows of each file; `.tsv` files are the header-less CoT form."""
    def reader(path: Path) -> Iterator[tuple[str, Any]]:
        if path.suffix.lower() == ".tsv":
            return read_tsv_columns(path, COT_COLUMNS, src.lenient)
        return read_rows(path, lenient=src.lenient)

    return src.read_files({".json", ".jsonl", ".parquet", ".csv", ".tsv"}, reader)


def field(row: dict, name: str) -> Any:
    """A FLAN field, or its seqio passthrough twin (`_task_name` for `task_name`); T0 and CoT rows
    imply their task source and template type."""
    value = row.get(name)
    if value is None:
        value = row.get(f"_{name}")
    if value is None and name in ("task_source", "template_type"):
        if "prompt" in row and "completion" in row:
            value = "t0" if name == "task_source" else None
        elif "rationale" in row:
            value = "cot"
    return value


def ftext(row: dict, name: str) -> str:
    return text(row, name if row.get(name) is not None or f"_{name}" not in row else f"_{name}",
                required=True)


def file_stem(where: str, src: Source) -> str | None:
    """The stem of the file a row came from (`path:line`), None for hub rows."""
    return None if src.hub else Path(where.rsplit(":", 1)[0]).stem


def selector(p: Params):
    """Template-type and task-source filters (task sources compare case-insensitively)."""
    sources = {s.lower() for s in p.task_sources} if p.task_sources is not None else None
    weighted_sources = {s.lower() for s in p.submix_weights} if p.submix_weights else None

    def select(row: Any) -> str | None:
        if not isinstance(row, dict):
            return None
        tt, ts = field(row, "template_type"), field(row, "task_source")
        if p.template_types is not None and isinstance(tt, str) and tt not in p.template_types:
            return "template_type"
        ts = ts.lower() if isinstance(ts, str) else None
        for allowed in (sources, weighted_sources):
            if allowed is not None and ts is not None and ts not in allowed:
                return "task_source"
        return None

    return select


def weighted(raw: Iterator[tuple[str, Any]], p: Params, ctx: StageContext) -> Iterator[tuple[str, Any]]:
    """At most round(limit * w / sum(w)) rows per task source: the first ones, or with `seed` a
    seeded reservoir sample per source; rows are yielded in input order."""
    weights = {k.lower(): w for k, w in (p.submix_weights or {}).items()}
    total_w = sum(weights.values()) or 1.0
    limit, seed = getattr(p, "limit"), getattr(p, "seed", None)
    quotas = {src: round(limit * w / total_w) for src, w in weights.items()}
    kept: dict[str, list] = {src: [] for src in quotas}
    seen = dict.fromkeys(quotas, 0)
    other: list = []
    rng = ctx.rng(seed)
    for n, (where, row) in enumerate(raw):
        ts = field(row, "task_source") if isinstance(row, dict) else None
        ts = ts.lower() if isinstance(ts, str) else None
        if ts not in kept:
            other.append((n, (where, row)))
            continue
        seen[ts] += 1
        if len(kept[ts]) < quotas[ts]:
            kept[ts].append((n, (where, row)))
            continue
        ctx.count("skipped_submix_quota")
        j = rng.randint(0, seen[ts] - 1) if seed is not None else quotas[ts]
        if j < quotas[ts]:
            kept[ts][j] = (n, (where, row))
    picked = list(other)
    for src, items in kept.items():
        ctx.count(f"submix_{src}", len(items))
        picked += items
    picked.sort(key=lambda pair: pair[0])
    for _, item in picked:
        yield item


def convert(row: Any, where: str, p: Params, src: Source) -> Item:
    try:
        need_object(row)
        stem = file_stem(where, src)
        if {"inputs", "targets", "_inputs", "_targets"} & row.keys():
            user, answer, meta = collection_row(row)
        elif "prompt" in row or "completion" in row:
            user, answer, meta = t0_row(row, stem)
        elif "question" in row or "rationale" in row:
            user, answer, meta = cot_row(row, p, stem)
        else:
            raise FieldError("inputs", "missing (expected inputs/targets, prompt/completion or a CoT row)")
    except FieldError as err:
        return reject_row(where, row, err)
    if not user.strip():
        return Rejected("empty_instruction", "the prompt is empty", raw=row, where=where)
    if not answer.strip():
        return Rejected("empty_output", "the target is empty", raw=row, where=where)
    meta = {"source": src.label, **meta}
    return finish([{"role": "user", "content": user.strip()}, {"role": "assistant", "content": answer.strip()}],
                  meta, where)


def collection_row(row: dict) -> tuple[str, str, dict]:
    user, answer = ftext(row, "inputs"), ftext(row, "targets")
    meta: dict = {}
    for name, key in (("task_name", "task"), ("task_source", "task_source"), ("template_type", "template_type")):
        value = field(row, name)
        if value is not None and not isinstance(value, str):
            raise FieldError(name, f"expected text, got {type(value).__name__}")
        put_meta(meta, key, value)
    return user, answer, meta


def t0_row(row: dict, stem: str | None) -> tuple[str, str, dict]:
    """T0/P3 templated `{prompt, completion}` (Self-Instruct's T0 files end with <|endoftext|>)."""
    prompt = text(row, "prompt", required=True)
    completion = text(row, "completion", required=True)
    if completion.endswith(EOT):
        completion = completion[: -len(EOT)]
    meta: dict = {"task_source": "t0"}
    put_meta(meta, "task", stem)
    return prompt, completion, meta


def cot_row(row: dict, p: Params, stem: str | None) -> tuple[str, str, dict]:
    """CoT TSV: literal `\\n` in the file stands for a newline (as FLAN's loader reads it)."""
    question, answer, rationale = (text(row, c, required=True).replace("\\n", "\n") for c in COT_COLUMNS)
    if not rationale.strip():
        raise FieldError("rationale", "empty")
    user = f"{question.strip()}\n{p.cot_trigger}" if p.cot_trigger else question
    reply = f"{rationale.strip()} {p.cot_answer_prefix} {answer.strip()}".rstrip()
    if reply[-1] not in ".!?":
        reply += "."
    meta: dict = {"task_source": "cot", "template_type": "cot"}
    if stem:
        name = stem.removesuffix("_train").removesuffix("_dev")
        meta["task"] = name if name.startswith("cot_") else f"cot_{name}"
    return user, reply, meta
