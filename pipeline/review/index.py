"""An offset index of a stage file, built once and kept beside it (`<stage>/.review/<kind>.npz`).

It holds the byte offset of every line, a 64-bit hash of every record id (sorted, for look-ups
from `parents`), the values of the filterable `meta` fields (source, lang, reason, op, model) as
small integer codes, and every numeric `meta.scores` key as a float column (NaN when absent). With
it a page of a 1,000,000-record stage is a few seeks, and filters and sorts are array operations.
The index is rebuilt when the stage file's size or modification time changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import xxhash

from pipeline.jsonl import atomic_write_text

FACETS = ("source", "lang", "reason", "op", "model")
META_FACETS = tuple(f for f in FACETS if f != "reason")
INDEX_VERSION = 1
KINDS = {"kept": "data.jsonl", "rejected": "rejected.jsonl"}


def id_hash(record_id: str) -> int:
    return xxhash.xxh64_intdigest(record_id.encode("utf-8"))


def record_of(obj: dict, kind: str) -> dict:
    """The record inside a line (a rejected line wraps it), or {} for a raw rejected row."""
    if kind == "rejected":
        rec = obj.get("record")
        return rec if isinstance(rec, dict) else {}
    return obj


def facet_value(obj: dict, kind: str, name: str) -> str | None:
    if name == "reason":
        return str(obj.get("reason", "")).split("@", 1)[0] if kind == "rejected" else None
    meta = record_of(obj, kind).get("meta") or {}
    value = meta.get(name)
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def line_id(obj: dict, kind: str, offset: int) -> str:
    """The record id of a line; a raw rejected row gets a positional id."""
    rid = record_of(obj, kind).get("id")
    return rid if isinstance(rid, str) and rid else f"raw@{offset}"


@dataclass
class StageIndex:
    path: Path
    kind: str
    offsets: np.ndarray        # uint64, one per line, plus the file size at the end
    id_hashes: np.ndarray      # uint64, sorted
    id_rows: np.ndarray        # uint32 row of each sorted hash
    facets: dict[str, tuple[list[str], np.ndarray]]   # name -> (values, int32 codes, -1 absent)
    scores: dict[str, np.ndarray]                      # key -> float32 column

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def read_rows(self, rows: list[int] | np.ndarray) -> list[dict]:
        """Decode the given rows (in the given order) with one open file."""
        out = []
        with open(self.path, "rb") as fh:
            for r in rows:
                start, end = int(self.offsets[r]), int(self.offsets[r + 1])
                fh.seek(start)
                try:
                    obj = orjson.loads(fh.read(end - start))
                except orjson.JSONDecodeError:
                    obj = {"reason": "unreadable_line", "raw": "(unreadable line)"}
                out.append(obj if isinstance(obj, dict) else {"raw": obj})
        return out

    def find(self, record_id: str) -> list[int]:
        """Rows whose id hash matches `record_id` (callers check the id itself)."""
        h = np.uint64(id_hash(record_id))
        lo = int(np.searchsorted(self.id_hashes, h, side="left"))
        hi = int(np.searchsorted(self.id_hashes, h, side="right"))
        return sorted(int(r) for r in self.id_rows[lo:hi])

    def facet_counts(self, mask: np.ndarray | None = None) -> dict[str, dict[str, int]]:
        out = {}
        for name, (values, codes) in self.facets.items():
            sel = codes if mask is None else codes[mask]
            counts = np.bincount(sel[sel >= 0], minlength=len(values))
            out[name] = {values[i]: int(c) for i, c in enumerate(counts) if c}
        return out


def _line_offsets(path: Path) -> np.ndarray:
    """Start of every complete line, plus the end of the last one (a torn tail is left out)."""
    starts = [np.zeros(1, dtype=np.uint64)]
    pos = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            nl = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10).astype(np.uint64)
            starts.append(nl + np.uint64(pos + 1))
            pos += len(chunk)
    offsets = np.concatenate(starts)
    return offsets  # the last entry is one past the last newline: the end of the last full line


def _scan(path: Path, kind: str, offsets: np.ndarray) -> tuple[np.ndarray, dict, dict]:
    """Id hashes, facet codes and score columns of every line (plain lists in the loop: fast)."""
    n = len(offsets) - 1
    hashes = [0] * n
    facets = _Facets(n)
    scores: dict[str, tuple[list[int], list[float]]] = {}
    rejected = kind == "rejected"
    with open(path, "rb") as fh:
        for row in range(n):
            try:
                obj = orjson.loads(fh.readline())
            except orjson.JSONDecodeError:
                obj = None
            obj = obj if isinstance(obj, dict) else {}
            rec = obj.get("record") if rejected else obj
            rec = rec if isinstance(rec, dict) else {}
            rid = rec.get("id")
            if not isinstance(rid, str) or not rid:
                rid = f"raw@{int(offsets[row])}"
            hashes[row] = xxhash.xxh64_intdigest(rid.encode("utf-8"))
            if rejected:
                facets.add("reason", row, str(obj.get("reason", "")).split("@", 1)[0])
            meta = rec.get("meta")
            if not isinstance(meta, dict):
                continue
            for name in META_FACETS:
                value = meta.get(name)
                if value is not None and not isinstance(value, (dict, list)):
                    facets.add(name, row, str(value))
            found = meta.get("scores")
            if isinstance(found, dict):
                for key, value in found.items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        rows, values = scores.setdefault(key, ([], []))
                        rows.append(row)
                        values.append(value)
    columns = {}
    for key, (rows, values) in scores.items():
        col = columns[key] = np.full(n, np.nan, dtype=np.float32)
        col[np.asarray(rows, dtype=np.int64)] = values
    return np.asarray(hashes, dtype=np.uint64), facets.done(), columns


class _Facets:
    """Small-integer codes of the values of each facet, built row by row."""

    def __init__(self, n: int):
        self.vocab: dict[str, dict[str, int]] = {name: {} for name in FACETS}
        self.codes: dict[str, list[int]] = {name: [-1] * n for name in FACETS}

    def add(self, name: str, row: int, value: str) -> None:
        vocab = self.vocab[name]
        code = vocab.get(value)
        if code is None:
            code = vocab[value] = len(vocab)
        self.codes[name][row] = code

    def done(self) -> dict[str, tuple[list[str], np.ndarray]]:
        return {name: (list(v), np.asarray(self.codes[name], dtype=np.int32))
                for name, v in self.vocab.items() if v}


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{INDEX_VERSION}:{st.st_size}:{st.st_mtime_ns}"


def index_path(path: Path, kind: str) -> Path:
    return path.parent / ".review" / f"{kind}.npz"


def build_index(path: Path, kind: str) -> StageIndex:
    offsets = _line_offsets(path)
    hashes, facets, scores = _scan(path, kind, offsets)
    order = np.argsort(hashes, kind="stable")
    idx = StageIndex(path, kind, offsets, hashes[order], order.astype(np.uint32), facets, scores)
    _save(idx, _stamp(path))
    return idx


def _save(idx: StageIndex, stamp: str) -> None:
    target = index_path(idx.path, idx.kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"offsets": idx.offsets, "id_hashes": idx.id_hashes, "id_rows": idx.id_rows}
    for name, (_, codes) in idx.facets.items():
        arrays[f"facet:{name}"] = codes
    for key, col in idx.scores.items():
        arrays[f"score:{key}"] = col
    tmp = target.with_name(target.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, target)
    vocab = {name: values for name, (values, _) in idx.facets.items()}
    atomic_write_text(target.with_suffix(".json"),
                      orjson.dumps({"stamp": stamp, "vocab": vocab}).decode())


def open_index(path: Path, kind: str) -> StageIndex:
    """The index of `path`, loaded from beside it or built (and saved) when missing or stale."""
    target = index_path(path, kind)
    info_path = target.with_suffix(".json")
    try:
        info = orjson.loads(info_path.read_bytes())
        if info.get("stamp") == _stamp(path):
            with np.load(target) as z:
                facets = {name: (values, z[f"facet:{name}"]) for name, values in info["vocab"].items()}
                scores = {k[len("score:"):]: z[k] for k in z.files if k.startswith("score:")}
                return StageIndex(path, kind, z["offsets"], z["id_hashes"], z["id_rows"], facets, scores)
    except (OSError, ValueError, KeyError, orjson.JSONDecodeError):
        pass
    return build_index(path, kind)
