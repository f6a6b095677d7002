"""Tabular source files (parquet, CSV/TSV with a header) read row by row, with errors that name
the file and the row or line at fault instead of a traceback."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path
from typing import Any, Iterator

from pipeline.errors import InputError
from pipeline.record import Rejected


def parquet_rows(path: Path) -> Iterator[tuple[str, Any]]:
    """Rows of a parquet file; a damaged page stops naming the first row that could not be read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:
        raise InputError(f"{path}: not a readable parquet file: {e}") from None
    n = 0
    batches = pf.iter_batches(batch_size=1024)
    while True:
        try:
            batch = next(batches, None)
            rows = batch.to_pylist() if batch is not None else None
        except (OSError, ValueError, pa.ArrowException) as e:
            raise InputError(f"{path}:row{n + 1}: cannot read this parquet file past row {n}: "
                             f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        if rows is None:
            return
        for row in rows:
            n += 1
            yield f"{path}:row{n}", row


def csv_rows(path: Path, delimiter: str) -> Iterator[tuple[str, Any]]:
    """Rows of a CSV/TSV with a header as dicts; `where` names the row's first line.

    Invalid UTF-8 and an unterminated quote stop naming the line; a row with more fields than
    the header is rejected (`bad_schema:columns`) rather than losing the extra fields.
    """
    reader = csv.reader(_utf8_lines(path), delimiter=delimiter, strict=True)
    header, first = None, 1
    try:
        for fields in reader:
            where, first = f"{path}:{first}", reader.line_num + 1
            if header is None:
                header = fields or None  # blank lines before the header are skipped
            elif len(fields) > len(header):
                yield where, Rejected("bad_schema:columns", f"{len(fields)} fields, the header has "
                                      f"{len(header)}", raw=fields, where=where)
            elif fields:
                yield where, dict(zip(header, fields + [None] * (len(header) - len(fields))))
    except csv.Error as e:
        if "unexpected end of data" in str(e):
            raise InputError(f"{path}:{first}: unterminated quoted field (a quote opened on this line "
                             "is never closed)") from None
        raise InputError(f"{path}:{first}: {e}") from None


def _utf8_lines(path: Path) -> Iterator[str]:
    """Decoded lines of `path` (BOM dropped); invalid UTF-8 stops naming line, column and byte."""
    offset = 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw, offset = raw[len(codecs.BOM_UTF8):], len(codecs.BOM_UTF8)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(f"{path}:{lineno}:{e.start + 1}: invalid UTF-8 byte 0x{raw[e.start]:02x} "
                                 f"at byte offset {offset + e.start}") from None
            offset += len(raw)
