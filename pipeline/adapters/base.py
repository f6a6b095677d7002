"""What every source adapter shares: where rows come from and how fields are read.

An adapter module has `NAME`, `DESCRIPTION`, a `Params` model (its own parameters) and
`read(src, params, ctx) -> Iterator[Record | Rejected]`. It reads rows through `src.rows()`,
which counts them as `records_in`, so every row must end as records or rejected items.
"""

from __future__ import annotations

import codecs
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from pipeline.adapters.hub import check_hub_id, hub_rows
from pipeline.adapters.tables import csv_rows, parquet_rows
from pipeline.errors import InputError
from pipeline.jsonl import (NESTED_TOO_DEEPLY, BadLine, check_regular, decode_line, deepest_point,
                            iter_json_rows, read_json_array, read_jsonl, sniff_json_kind)
from pipeline.ops.base import Item, Params, StageContext
from pipeline.record import Record, Rejected, check_messages, repair_unicode

log = logging.getLogger(__name__)

PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".pt", ".pth", ".npy", ".npz", ".bin", ".ckpt"}
ROW_SUFFIXES = {".json", ".jsonl", ".parquet", ".csv", ".tsv"}


class AdapterParams(Params):
    """Adapters with no parameters of their own use this."""


@dataclass
class Source:
    """Where an ingest stage reads from: a local file/folder or a HF hub dataset."""

    path: Path | None
    hub: str | None
    split: str
    config: str | None
    lenient: bool
    ctx: StageContext
    label: str
    limit: int | None = None
    seed: int | None = None
    hub_timeout: float = 60.0

    def files(self, suffixes: set[str] = ROW_SUFFIXES) -> list[Path]:
        """The local files to read: the file itself, or a folder's matching files, sorted."""
        assert self.path is not None
        if self.path.is_dir():
            found = sorted(p for p in self.path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
            if not found:
                raise InputError(f"{self.path}: no {'/'.join(sorted(suffixes))} files in this folder")
            return found
        check_regular(self.path)
        return [self.path]

    def rows(self, suffixes: set[str] = ROW_SUFFIXES, *, sample: bool = True,
             select: Callable[[Any], str | None] | None = None) -> Iterator[tuple[str, Any]]:
        """Yield `(where, row)` for each row taken, counting it in `records_in`.

        `select(row)` returns None to take a row or a reason to skip it (counted as
        `skipped_<reason>`, not taken: a selection like `limit`, not a rejection). With `limit`,
        only the first `limit` rows are taken; with `limit` and `seed`, a seeded uniform sample
        of `limit` rows, in file order. `rows_seen` counts every row read. Bad JSON lines come
        through as `BadLine` values in lenient mode.
        """
        return self.taken(self.raw_rows(suffixes), sample=sample, select=select)

    def raw_rows(self, suffixes: set[str] = ROW_SUFFIXES) -> Iterator[tuple[str, Any]]:
        """Every row of the source, counted in `rows_seen` only (not yet taken)."""
        return self._hub_rows() if self.hub else self._file_rows(suffixes)

    def taken(self, raw: Iterable[tuple[str, Any]], *, sample: bool = True,
              select: Callable[[Any], str | None] | None = None) -> Iterator[tuple[str, Any]]:
        """Apply `select` and `limit`/`seed` to rows and count the ones taken as `records_in`."""
        if select is not None:
            raw = selected(raw, select, self.ctx)
        if sample and self.limit is not None:
            raw = take(raw, self.limit, self.seed, self.ctx)
        for where, row in raw:
            self.ctx.count("records_in")
            yield where, self.repaired(row)

    def repaired(self, row: Any) -> Any:
        """The row with lone surrogates replaced by U+FFFD, counted in `repaired_unicode`."""
        if isinstance(row, (dict, list, str)):
            row, n = repair_unicode(row)
            if n:
                self.ctx.count("repaired_unicode", n)
        return row

    def _file_rows(self, suffixes: set[str]) -> Iterator[tuple[str, Any]]:
        return self.read_files(suffixes, lambda path: read_rows(path, lenient=self.lenient))

    def read_files(self, suffixes: set[str], reader: Callable[[Path], Iterable[tuple[str, Any]]]
                   ) -> Iterator[tuple[str, Any]]:
        """Rows of every local file through `reader`, counted in `rows_seen`; a file without
        rows is counted in `empty_files` and logged (a warning, not an error)."""
        for path in self.files(suffixes):
            n = 0
            for item in reader(path):
                n += 1
                self.ctx.count("rows_seen")
                yield item
            if n == 0:
                self.ctx.count("empty_files")
                log.warning("%s: empty file (no rows)", path)

    def _hub_rows(self) -> Iterator[tuple[str, Any]]:
        for i, row in enumerate(hub_rows(self.hub, self.config, self.split, self.hub_timeout)):
            self.ctx.count("rows_seen")
            yield f"{self.hub}[{self.split}]:row{i}", row


def selected(raw: Iterable[tuple[str, Any]], select: Callable[[Any], str | None],
             ctx: StageContext) -> Iterator[tuple[str, Any]]:
    for where, row in raw:
        reason = None if isinstance(row, (BadLine, Rejected)) else select(row)
        if reason is None:
            yield where, row
        else:
            ctx.count(f"skipped_{reason}")


def take(items: Iterator[Any], limit: int, seed: int | None, ctx: StageContext) -> Iterator[Any]:
    """The first `limit` items, or (with a seed) a seeded reservoir sample kept in input order."""
    if seed is None:
        for n, item in enumerate(items):
            if n >= limit:
                return
            yield item
        return
    rng = ctx.rng(seed)
    reservoir: list[tuple[int, Any]] = []
    for n, item in enumerate(items):
        if n < limit:
            reservoir.append((n, item))
        else:
            j = rng.randint(0, n)
            if j < limit:
                reservoir[j] = (n, item)
    reservoir.sort(key=lambda pair: pair[0])
    for _, item in reservoir:
        yield item


def refuse_pickle(path: Path) -> None:
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise InputError(f"{path}: refusing to load a pickle-type file ({path.suffix}); "
                         "loading it could run code. Convert it to JSONL, JSON or parquet.")


def read_rows(path: Path, lenient: bool = False) -> Iterator[tuple[str, Any]]:
    """Rows of one local file by its suffix: JSON (array or lines), JSONL, parquet, CSV, TSV."""
    refuse_pickle(path)
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        reader = read_jsonl(path, lenient=lenient) if suffix == ".jsonl" else iter_json_rows(path, lenient=lenient)
        for lineno, value in reader:
            yield f"{path}:{lineno}", value
    elif suffix == ".parquet":
        yield from parquet_rows(path)
    elif suffix in (".csv", ".tsv"):
        yield from csv_rows(path, "\t" if suffix == ".tsv" else ",")
    else:
        raise InputError(f"{path}: unsupported file type {suffix!r} (use .json, .jsonl, .parquet, .csv, .tsv)")


def read_json_document(path: Path) -> Any:
    """One whole JSON document (an SNI task file, a templates list); errors name path:line:col."""
    refuse_pickle(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path}:1:1: file is UTF-16 encoded (byte-order mark); convert it to UTF-8")
    try:
        text_ = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError(f"{path}:{line}: invalid UTF-8 byte 0x{data[e.start]:02x} at byte offset {e.start}") from None
    if not text_.strip():
        raise InputError(f"{path}: empty file")
    try:
        return decode_line(text_)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}:{e.colno}: {e.msg}") from None
    except RecursionError:
        line, col = deepest_point(text_)
        raise InputError(f"{path}:{line}:{col}: {NESTED_TOO_DEEPLY}") from None
    except ValueError as e:
        raise InputError(f"{path}: {e}") from None


def read_tsv_columns(path: Path, columns: tuple[str, ...], lenient: bool = False
                     ) -> Iterator[tuple[str, Any]]:
    """Rows of a header-less TSV as dicts over `columns`. A row with another field count comes
    as a `bad_schema:columns` rejection (adapters pass it on through `bad_line`); invalid UTF-8
    stops naming path:line:col and byte offset, or in lenient mode rejects that line."""
    refuse_pickle(path)
    offset = 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            start, offset = offset, offset + len(raw)
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw, start = raw[len(codecs.BOM_UTF8):], start + len(codecs.BOM_UTF8)
            where = f"{path}:{lineno}"
            try:
                line = raw.rstrip(b"\r\n").decode("utf-8")
            except UnicodeDecodeError as e:
                message = (f"{where}:{e.start + 1}: invalid UTF-8 byte 0x{raw[e.start]:02x} "
                           f"at byte offset {start + e.start}")
                if not lenient:
                    raise InputError(message) from None
                yield where, Rejected("bad_encoding", message, raw=raw.decode("utf-8", "replace"), where=where)
                continue
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != len(columns):
                yield where, Rejected("bad_schema:columns", f"expected {len(columns)} tab-separated "
                                      f"fields ({', '.join(columns)}), got {len(fields)}", raw=line, where=where)
                continue
            yield where, dict(zip(columns, fields))


def fan_out(ctx: StageContext, items: list[Item]) -> list[Item]:
    """Items made from one input row, keeping the ledger: extras are `generated`, none is `consumed`."""
    if not items:
        ctx.count("consumed")
    elif len(items) > 1:
        ctx.count("generated", len(items) - 1)
    return items


def bad_line(where: str, row: Any) -> Rejected | None:
    """A lenient-mode unparsable line, or a row a reader already rejected, as a rejected item
    (None if the row is fine)."""
    if isinstance(row, Rejected):
        return row
    if isinstance(row, BadLine):
        return Rejected("bad_json", f"{row.col}: {row.message}", raw=row.raw, where=where)
    return None


class FieldError(Exception):
    """A row field has the wrong type or is missing; becomes `bad_schema:<field>`."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def need_object(row: Any, *fields: str) -> dict:
    """The row itself when it is an object holding every one of `fields` (even if null)."""
    if not isinstance(row, dict):
        raise FieldError("row", f"expected an object, got {type(row).__name__}")
    for name in fields:
        if name not in row:
            raise FieldError(name, "missing")
    return row


def text(row: dict, field: str, *, required: bool = False, default: str = "") -> str:
    """A text field. Rule: numbers become their decimal text; null/missing give `default`
    (or an error when required); bools, lists and objects are errors."""
    if not isinstance(row, dict):
        raise FieldError("row", f"expected an object, got {type(row).__name__}")
    value = row.get(field)
    if value is None:
        if required:
            raise FieldError(field, "missing")
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FieldError(field, f"expected text, got {type(value).__name__}")
    return value if isinstance(value, str) else str(value)


def user_text(instruction: str, extra_input: str, sep: str = "\n\n") -> str:
    instruction, extra_input = instruction.strip(), extra_input.strip()
    return f"{instruction}{sep}{extra_input}" if extra_input else instruction


def finish(messages: list[dict], meta: dict, where: str) -> Record | Rejected:
    """A record from messages, or a rejected item naming the first bad turn."""
    problems = check_messages(messages)
    if problems:
        return Rejected(problems[0].code, "; ".join(map(str, problems)), raw=messages, where=where)
    return Record.new(messages, meta)


def instruction_record(instruction: str, extra: str, output: str, meta: dict, where: str, raw: Any,
                       sep: str = "\n\n", prefix: list[dict] | None = None) -> Record | Rejected:
    """An instruction/input/output row as a record: user = instruction + input, assistant = output.
    An empty instruction is rejected; an empty output gives an open record (awaiting an answer)."""
    if not instruction.strip():
        return Rejected("empty_instruction", "instruction is empty", raw=raw, where=where)
    messages = list(prefix or [])
    messages.append({"role": "user", "content": user_text(instruction, extra, sep)})
    if output.strip():
        messages.append({"role": "assistant", "content": output.strip()})
    return finish(messages, meta, where)


def reject_row(where: str, row: Any, err: FieldError) -> Rejected:
    return Rejected(f"bad_schema:{err.field}", str(err), raw=row, where=where)


def text_list(row: dict, field: str) -> list[str]:
    """A list-of-text field (SNI `Definition`, `Input_language`). Rule: one text counts as a
    one-item list, null/missing as empty; other items are errors naming the index."""
    value = row.get(field)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise FieldError(field, f"expected a list of texts, got {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise FieldError(f"{field}[{i}]", f"expected text, got {type(item).__name__}")
    return value


def put_meta(meta: dict, key: str, value: Any) -> None:
    """Copy a scalar provenance value (text or integer) into meta; other types are ignored."""
    if isinstance(value, str) and value or isinstance(value, int) and not isinstance(value, bool):
        meta[key] = value


__all__ = ["AdapterParams", "Source", "FieldError", "text", "text_list", "user_text", "finish",
           "reject_row", "instruction_record", "need_object", "bad_line", "read_rows", "read_json_array",
           "read_json_document", "read_tsv_columns", "sniff_json_kind", "refuse_pickle", "fan_out", "put_meta",
           "check_hub_id"]
