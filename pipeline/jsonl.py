"""Streaming JSONL and JSON-array reading, crash-safe appends and atomic small-file writes.

Reading never holds more than one line (or one array element) in memory. Errors name
`path:line:col`. Appends write whole lines only; a torn last line left by a crash is cut
off by `repair_tail` before a stage resumes.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson

from pipeline.errors import InputError

log = logging.getLogger(__name__)

UTF8_BOM = codecs.BOM_UTF8
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(slots=True)
class BadLine:
    """A line that could not be decoded (yielded instead of raising in lenient mode)."""

    path: str
    lineno: int
    col: int
    message: str
    raw: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.lineno}"

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}:{self.col}: {self.message}"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"duplicate key {dup!r}")
    return out


NESTED_TOO_DEEPLY = "JSON nested too deeply (arrays or objects inside each other beyond what can be read)"


class _NeedMore(Exception):
    """The buffer ends inside an array element: read more of the file."""


_STRICT = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
_PLAIN = json.JSONDecoder()  # only to find where a complete but rejected element ends


def decode_line(text: str, trusted: bool = False) -> Any:
    """Decode one JSON text; untrusted text also rejects NaN/Infinity and duplicate keys."""
    return orjson.loads(text) if trusted else _STRICT.decode(text)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (the form every data file is written in)."""
    return orjson.dumps(value)


def check_regular(path: Path) -> None:
    """Refuse a FIFO, socket or device: opening or reading one could block forever."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise InputError(f"{path}: not a regular file (a pipe, socket or device); give a file")


def _open_checked(path: Path):
    check_regular(path)
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, expected a file") from None
    head = fh.read(4)
    if any(head.startswith(b) for b in UTF16_BOMS):
        fh.close()
        raise InputError(f"{path}:1:1: file is UTF-16 encoded (byte-order mark); convert it to UTF-8")
    fh.seek(len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0)
    return fh


def read_jsonl(path: str | Path, *, lenient: bool = False, trusted: bool = False
               ) -> Iterator[tuple[int, Any]]:
    """Yield `(line_number, value)` for every non-blank line.

    Strict mode raises InputError `path:line:col: message` on the first bad line; lenient mode
    yields `(line_number, BadLine)` for it and goes on. UTF-8 BOM and CRLF are accepted.
    """
    path = Path(path)
    with _open_checked(path) as fh:
        offset = fh.tell()
        for lineno, raw in enumerate(fh, start=1):
            start, offset = offset, offset + len(raw)
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            text = ""
            try:
                if trusted:
                    value = orjson.loads(raw)
                else:
                    text = raw.decode("utf-8")
                    value = _STRICT.decode(text)
            except UnicodeDecodeError as e:
                bad = BadLine(str(path), lineno, e.start + 1,
                              f"invalid UTF-8 byte 0x{raw[e.start]:02x} at byte offset {start + e.start}",
                              raw.decode("utf-8", "replace"))
            except json.JSONDecodeError as e:
                bad = BadLine(str(path), lineno, e.colno, e.msg, text or raw.decode("utf-8", "replace"))
            except RecursionError:
                bad = BadLine(str(path), lineno, 1, NESTED_TOO_DEEPLY, text)
            except ValueError as e:
                bad = BadLine(str(path), lineno, 1, str(e), text)
            else:
                yield lineno, value
                continue
            if not lenient:
                raise InputError(f"{bad} (set `lenient: true` on the stage to reject bad lines and go on)")
            yield lineno, bad


class _Chunks:
    """A window on a file being read as one JSON text: `buf[pos:]` is unread, `line` is pos's line."""

    def __init__(self, fh: Any, path: Path, chunk_size: int):
        self.fh, self.path, self.size = fh, path, chunk_size
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False
        self.base_col = 0  # 0-based column of buf[0] within its line

    def fill(self) -> None:
        data = self.fh.read(self.size)
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as e:
            line = self.line + self.buf.count("\n", self.pos) + data.count(b"\n", 0, max(e.start, 0))
            raise InputError(f"{self.path}:{line}: invalid UTF-8 ({e.reason})") from None
        nl = self.buf.rfind("\n", 0, self.pos)
        self.base_col = self.pos - nl - 1 if nl >= 0 else self.base_col + self.pos
        self.buf, self.pos, self.eof = self.buf[self.pos:] + text, 0, not data

    def skip(self, chars: str) -> bool:
        """Move past `chars`, reading on as needed; False at the end of the file."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in chars:
                self.line += self.buf[self.pos] == "\n"
                self.pos += 1
            if self.pos < len(self.buf):
                return True
            if self.eof:
                return False
            self.fill()

    def position(self, offset: int) -> tuple[int, int]:
        """`(line, col)` of a buffer offset at or after `pos`."""
        nl = self.buf.rfind("\n", 0, offset)
        return (self.line + self.buf.count("\n", self.pos, offset),
                offset - nl if nl >= 0 else self.base_col + offset + 1)

    def at(self, offset: int) -> str:
        line, col = self.position(offset)
        return f"{self.path}:{line}:{col}"


def read_json_array(path: str | Path, chunk_size: int = 1 << 20, *, lenient: bool = False
                    ) -> Iterator[tuple[int, Any]]:
    """Yield `(line_number, element)` of a top-level JSON array, one element in memory at a time.

    Elements follow the JSONL rules (no NaN/Infinity, no duplicate keys); nothing but whitespace
    may follow the closing `]`. In lenient mode an element breaking those rules comes as a
    `BadLine` (broken syntax still stops: where the next element starts is then unknown).
    """
    path = Path(path)
    with _open_checked(path) as fh:
        c = _Chunks(fh, path, chunk_size)
        c.fill()
        if c.skip(" \t\r\n") and c.buf[c.pos] != "[":
            raise InputError(f"{path}:{c.line}:1: expected a JSON array ('['), got {c.buf[c.pos]!r}")
        c.pos += 1
        while True:
            if not c.skip(" \t\r\n,"):
                raise InputError(f"{path}:{c.line}:1: unexpected end of file inside the JSON array")
            if c.buf[c.pos] == "]":
                c.pos += 1
                if c.skip(" \t\r\n"):
                    raise InputError(f"{c.at(c.pos)}: unexpected text after the closing ']' of the JSON array")
                return
            value, end = _element(c, lenient)
            yield c.line, value
            c.line += c.buf.count("\n", c.pos, end)
            c.pos = end


def _element(c: _Chunks, lenient: bool) -> tuple[Any, int]:
    """The array element starting at `c.pos` and the offset after it, reading more as needed."""
    while True:
        try:
            value, end = _STRICT.raw_decode(c.buf, c.pos)
            if end >= len(c.buf) and not c.eof:
                raise _NeedMore
            return value, end
        except (json.JSONDecodeError, _NeedMore) as e:
            if not c.eof:
                c.fill()
                continue
            raise InputError(f"{c.at(e.pos)}: {e.msg}") from None
        except RecursionError:
            raise InputError(f"{c.at(c.pos)}: {NESTED_TOO_DEEPLY}") from None
        except ValueError as e:  # a duplicate key or NaN: the element is complete and wrong
            if not lenient:
                raise InputError(f"{c.at(c.pos)}: {e} (set `lenient: true` on the stage to reject "
                                 "such elements and go on)") from None
            _, end = _PLAIN.raw_decode(c.buf, c.pos)
            return BadLine(str(c.path), *c.position(c.pos), str(e), c.buf[c.pos:end]), end


def deepest_point(text: str) -> tuple[int, int]:
    """`(line, col)` of the first bracket at the deepest nesting of a JSON text (strings skipped),
    to point at a document too deeply nested to decode."""
    depth = best = at = 0
    in_str = escaped = False
    for i, ch in enumerate(text):
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > best:
                best, at = depth, i
        elif ch in "]}":
            depth -= 1
    return text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)


def sniff_json_kind(path: str | Path) -> str:
    """'array' if the file's first non-blank character is '[', 'object' if '{' (JSON or JSONL)."""
    with _open_checked(Path(path)) as fh:
        while True:
            chunk = fh.read(4096)
            if not chunk:
                return "empty"
            stripped = chunk.lstrip()
            if stripped:
                return {ord("["): "array", ord("{"): "object"}.get(stripped[0], "other")


def iter_json_rows(path: str | Path, *, lenient: bool = False) -> Iterator[tuple[int, Any]]:
    """Rows of a JSON array file or a JSONL file (many `.json` files are really JSONL)."""
    kind = sniff_json_kind(path)
    if kind == "array":
        yield from read_json_array(path, lenient=lenient)
    elif kind != "empty":
        yield from read_jsonl(path, lenient=lenient)


class JsonlAppender:
    """Appends whole JSON lines to a file; each flush is one `os.write` of complete lines."""

    def __init__(self, path: str | Path, buffer_bytes: int = 1 << 16):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._buf: list[bytes] = []
        self._size = 0
        self._limit = buffer_bytes
        self.lines = 0

    def write(self, line: str | bytes) -> None:
        data = (line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n"
        self._buf.append(data)
        self._size += len(data)
        self.lines += 1
        if self._size >= self._limit:
            self.flush()

    def flush(self) -> None:
        if not self._buf:
            return
        data = memoryview(b"".join(self._buf))
        self._buf, self._size = [], 0
        try:
            while data:
                written = os.write(self._fd, data)
                data = data[written:]
        except OSError as e:
            raise InputError(f"{self.path}: write failed: {e.strerror} (errno {e.errno})") from None

    def sync(self) -> None:
        self.flush()
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            try:
                self.sync()
            finally:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def repair_tail(path: str | Path) -> int:
    """Cut a torn (newline-less) last line off `path`; return the number of bytes dropped."""
    path = Path(path)
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return 0
        end = size
        keep = 0
        while end > 0:
            start = max(0, end - (1 << 16))
            fh.seek(start)
            chunk = fh.read(end - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                keep = start + idx + 1
                break
            end = start
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    dropped = size - keep
    log.warning("repaired %s: dropped %d bytes (partial record)", path, dropped)
    return dropped


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a small file via temp file + fsync + rename + directory fsync."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_json(path: str | Path, value: Any) -> None:
    atomic_write_text(path, json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def read_json_file(path: str | Path) -> Any:
    """Read a small JSON file written by `atomic_write_json` (errors name the file)."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}:{e.colno}: {e.msg}") from None
