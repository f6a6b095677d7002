"""Select rows of a stage index: full-text search, `meta` filters, score ranges, decisions, sort.

Search scans the stage file once per query (a literal match over the raw JSON lines, case folded
for ASCII letters) and keeps the matching rows of the last few queries, so paging a search is
as cheap as paging the whole stage. Order is the file order unless a score sort is asked for;
ties keep file order, so pages are stable.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from pipeline.errors import ConfigError
from pipeline.review.index import FACETS, StageIndex

_SEARCH_CACHE: OrderedDict = OrderedDict()
_SEARCH_CACHE_SIZE = 8
SEARCH_CHUNK = 1 << 24


@dataclass(frozen=True)
class Query:
    kind: str = "kept"
    q: str = ""
    facets: tuple[tuple[str, str], ...] = ()              # (field, value)
    ranges: tuple[tuple[str, float | None, float | None], ...] = ()   # (score key, min, max)
    decision: str = ""                                   # "", unreviewed, accept, reject, edit, flag
    sort: str = ""                                       # score key ("" = file order)
    order: str = "desc"
    extra: dict = field(default_factory=dict, compare=False, hash=False)


def parse_query(params) -> Query:
    """A Query from request parameters: `kind`, `q`, `source=`..., `min.KEY`, `max.KEY`, `sort`."""
    kind = params.get("kind", "kept")
    if kind not in ("kept", "rejected"):
        raise ConfigError("kind: expected kept or rejected")
    facets = tuple((name, params[name]) for name in FACETS if params.get(name))
    keys = {k.split(".", 1)[1] for k in params if k.startswith(("min.", "max."))}
    ranges = tuple((k, _num(params, f"min.{k}"), _num(params, f"max.{k}")) for k in sorted(keys))
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ConfigError("order: expected asc or desc")
    decision = params.get("decision", "")
    if decision not in ("", "unreviewed", "accept", "reject", "edit", "flag"):
        raise ConfigError("decision: expected unreviewed, accept, reject, edit or flag")
    return Query(kind, params.get("q", "").strip(), facets, ranges, decision, params.get("sort", ""), order)


def _num(params, key: str) -> float | None:
    value = params.get(key, "")
    if value in ("", None):
        return None
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{key}: expected a number, got {value!r}") from None


def search_rows(idx: StageIndex, q: str) -> np.ndarray:
    """Rows whose raw line contains `q` (case-insensitive), in file order."""
    key = (str(idx.path), len(idx), q)
    if key in _SEARCH_CACHE:
        _SEARCH_CACHE.move_to_end(key)
        return _SEARCH_CACHE[key]
    # the line holds JSON text: look for the query as it is escaped there; `bytes.lower` folds
    # ASCII letters only, so other scripts match as typed (a fast C pass instead of a regex)
    needle = json.dumps(q, ensure_ascii=False)[1:-1].encode("utf-8").lower()
    end = int(idx.offsets[-1])
    hits: list[int] = []
    with open(idx.path, "rb") as fh:
        start = 0
        while start < end:
            chunk = fh.read(min(SEARCH_CHUNK, end - start))
            cut = chunk.rfind(b"\n") + 1 if start + len(chunk) < end else len(chunk)
            if cut == 0:  # one line longer than a chunk: read on to its end
                cut = len(chunk) + len(fh.readline())
                fh.seek(start)
                chunk = fh.read(cut)
            low, pos = chunk[:cut].lower(), 0
            while (at := low.find(needle, pos)) >= 0:
                hits.append(start + at)
                pos = at + 1
            start += cut
            fh.seek(start)
    rows = np.unique(np.searchsorted(idx.offsets, np.asarray(hits, dtype=np.uint64), side="right") - 1)
    rows = rows.astype(np.int64)
    _SEARCH_CACHE[key] = rows
    if len(_SEARCH_CACHE) > _SEARCH_CACHE_SIZE:
        _SEARCH_CACHE.popitem(last=False)
    return rows


def select_rows(idx: StageIndex, query: Query, decided: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Row numbers matching `query`, in the order asked for."""
    mask = np.ones(len(idx), dtype=bool)
    for name, value in query.facets:
        values, codes = idx.facets.get(name, ([], None))
        if codes is None or value not in values:
            return np.zeros(0, dtype=np.int64)
        mask &= codes == values.index(value)
    for key, lo, hi in query.ranges:
        col = idx.scores.get(key)
        if col is None:
            return np.zeros(0, dtype=np.int64)
        with np.errstate(invalid="ignore"):
            if lo is not None:
                mask &= col >= lo
            if hi is not None:
                mask &= col <= hi
    if query.decision and decided is not None:
        key = "reviewed" if query.decision == "unreviewed" else query.decision
        rows = decided.get(key, np.zeros(0, dtype=np.int64))
        chosen = np.zeros(len(idx), dtype=bool)
        chosen[rows] = True
        mask &= ~chosen if query.decision == "unreviewed" else chosen
    if query.q:
        hit = np.zeros(len(idx), dtype=bool)
        hit[search_rows(idx, query.q)] = True
        mask &= hit
    rows = np.flatnonzero(mask)
    if query.sort:
        col = idx.scores.get(query.sort)
        if col is None:
            raise ConfigError(f"sort: no record carries the score {query.sort!r}")
        values = col[rows].astype(np.float64)
        values = np.where(np.isnan(values), -np.inf if query.order == "desc" else np.inf, values)
        keys = -values if query.order == "desc" else values
        rows = rows[np.argsort(keys, kind="stable")]
    return rows
