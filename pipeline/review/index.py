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
    n = len(offsets) - 1
    hashes = np.zeros(n, dtype=np.uint64)
    codes = {name: np.full(n, -1, dtype=np.int32) for name in FACETS}
    vocab: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    scores: dict[str, np.ndarray] = {}
    with open(path, "rb") as fh:
        for row in range(n):
            raw = fh.readline()
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                obj = {}
            if not isinstance(obj, dict):
                obj = {}
            hashes[row] = id_hash(line_id(obj, kind, int(offsets[row])))
            for name in FACETS:
                value = facet_value(obj, kind, name)
                if value is not None:
                    codes[name][row] = vocab[name].setdefault(value, len(vocab[name]))
            meta_scores = (record_of(obj, kind).get("meta") or {}).get("scores")
            if isinstance(meta_scores, dict):
                for key, value in meta_scores.items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        col = scores.get(key)
                        if col is None:
                            col = scores[key] = np.full(n, np.nan, dtype=np.float32)
                        col[row] = value
    return hashes, {k: (list(v), codes[k]) for k, v in vocab.items() if v}, scores


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
