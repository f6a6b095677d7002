"""What the review page shows and changes: the stages of a run, their records and decisions.

Reads the run folder (manifest, stage files, offset indexes) and appends decisions; it writes
nothing else, and only under the run folder (`reviews/` and the `.review/` index beside each
stage's files).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError, InputError
from pipeline.review.decisions import DecisionLog, append_decisions, decisions_path, make_decision
from pipeline.progress import say
from pipeline.review.index import KINDS, StageIndex, index_path, line_id, open_index, record_of
from pipeline.review.markdown import render_markdown
from pipeline.review.query import Query, select_rows
from pipeline.rundir import RunDir
from pipeline.status import open_run

MAX_LIMIT = 200
BULK_MAX = 100_000


class ReviewStore:
    def __init__(self, run_dir: Path):
        self.rd, self._manifest = open_run(run_dir)
        self.root = self.rd.root.resolve()
        self._manifest_stamp = self._stamp()
        self._indexes: dict[tuple[str, str], StageIndex] = {}
        self._logs: dict[str, DecisionLog] = {}
        self._lock = threading.RLock()

    # -- stages -----------------------------------------------------------------------------
    def _stamp(self) -> int:
        try:
            return (self.root / "manifest.json").stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    @property
    def manifest(self) -> dict:
        """The run's manifest, read again when a run has rewritten it since."""
        stamp = self._stamp()
        if stamp != self._manifest_stamp:
            self._manifest, self._manifest_stamp = self.rd.manifest() or self._manifest, stamp
        return self._manifest

    def stage_ids(self) -> list[str]:
        return list((self.manifest.get("stages") or {}).keys())

    def check_stage(self, sid: str) -> str:
        if sid not in self.stage_ids():
            raise ConfigError(f"stage: no stage {sid!r} in this run (stages: {', '.join(self.stage_ids())})")
        return sid

    def stages(self) -> list[dict]:
        out = []
        for sid, entry in (self.manifest.get("stages") or {}).items():
            stats = self.rd.stats(sid)
            reasons = {k[len("dropped_"):]: v for k, v in stats.items() if k.startswith("dropped_")}
            log = self.log(sid)
            out.append({"id": sid, "op": entry.get("op"), "inputs": entry.get("inputs", []),
                        "state": self.rd.state(sid, entry.get("fingerprint")),
                        "records_in": stats.get("records_in", 0), "records_out": stats.get("records_out", 0),
                        "rejected": stats.get("rejected", 0), "reasons": reasons,
                        "reviewed": len(log.record_ids()), "reviewers": log.reviewers()})
        return out

    def index(self, sid: str, kind: str) -> StageIndex | None:
        path = self.rd.file(self.check_stage(sid), KINDS[kind])
        if not path.exists():
            return None
        with self._lock:
            idx = self._indexes.get((sid, kind))
            stamp = path.stat()
            if idx is None or getattr(idx, "_stamp", None) != (stamp.st_size, stamp.st_mtime_ns):
                if not index_path(path, kind).exists():
                    say(f"review: indexing {sid}/{path.name} ({stamp.st_size / 1e6:.0f} MB), once")
                idx = open_index(path, kind)
                idx._stamp = (stamp.st_size, stamp.st_mtime_ns)
                self._indexes[(sid, kind)] = idx
            return idx

    def log(self, sid: str) -> DecisionLog:
        with self._lock:
            log = self._logs.get(sid)
            if log is None:
                log = self._logs[sid] = DecisionLog(decisions_path(self.root, sid))
            return log.refresh()

    # -- records ----------------------------------------------------------------------------
    def decided_rows(self, sid: str, idx: StageIndex) -> dict[str, np.ndarray]:
        """Rows of `idx` per decision (verdicts, `flag`, and `reviewed` for any decision)."""
        log = self.log(sid)
        groups: dict[str, list[int]] = {"accept": [], "reject": [], "edit": [], "flag": [], "reviewed": []}
        for rid in log.record_ids():
            rows = idx.find(rid)
            if not rows:
                continue
            v = log.verdict(rid)
            groups["reviewed"].extend(rows)
            if v.action:
                groups[v.action].extend(rows)
            if v.messages is not None and v.action == "accept":
                groups["edit"].extend(rows)
            if v.flagged:
                groups["flag"].extend(rows)
        return {k: np.asarray(sorted(set(v)), dtype=np.int64) for k, v in groups.items()}

    def select(self, sid: str, query: Query) -> tuple[StageIndex | None, np.ndarray]:
        idx = self.index(sid, query.kind)
        if idx is None:
            return None, np.zeros(0, dtype=np.int64)
        decided = self.decided_rows(sid, idx) if query.decision else None
        return idx, select_rows(idx, query, decided)

    def records(self, sid: str, query: Query, offset: int = 0, limit: int = 50) -> dict:
        if offset < 0 or not 1 <= limit <= MAX_LIMIT:
            raise ConfigError(f"offset/limit: offset >= 0 and limit 1-{MAX_LIMIT}")
        idx, rows = self.select(sid, query)
        page = rows[offset:offset + limit]
        items = []
        if idx is not None:
            for row, obj in zip(page, idx.read_rows(page)):
                items.append(self.view(sid, query.kind, int(row), obj, idx))
        scores = sorted(idx.scores) if idx is not None else []
        if idx is not None and not hasattr(idx, "_facet_counts"):  # the same for every page
            idx._facet_counts = idx.facet_counts()
        facets = idx._facet_counts if idx is not None else {}
        return {"stage": sid, "kind": query.kind, "total": int(len(rows)), "offset": offset, "limit": limit,
                "size": len(idx) if idx is not None else 0, "records": items,
                "facets": facets, "scores": scores}

    def view(self, sid: str, kind: str, row: int, obj: dict, idx: StageIndex) -> dict:
        """One record as the page shows it: turns with safe HTML, meta, decisions, rejection."""
        rec = record_of(obj, kind)
        rid = line_id(obj, kind, int(idx.offsets[row]))
        messages = rec.get("messages") if isinstance(rec.get("messages"), list) else []
        turns = [{"role": str(m.get("role", "")), "content": str(m.get("content", "")),
                  "html": render_markdown(str(m.get("content", "")))}
                 for m in messages if isinstance(m, dict)]
        out = {"row": row, "id": rid, "messages": turns, "meta": rec.get("meta") or {},
               "decisions": self.log(sid).of(rid)}
        if kind == "rejected":
            out["rejected"] = {k: obj.get(k) for k in ("reason", "detail", "where", "raw") if k in obj}
        return out

    def locate(self, sid: str, kind: str, record_id: str) -> tuple[StageIndex, int, dict] | None:
        """The index, row and line of `record_id` in a stage file, or None."""
        idx = self.index(sid, kind)
        if idx is None:
            return None
        for row in idx.find(record_id):
            obj = idx.read_rows([row])[0]
            if line_id(obj, kind, int(idx.offsets[row])) == record_id:
                return idx, row, obj
        return None

    def record(self, sid: str, kind: str, record_id: str) -> dict | None:
        found = self.locate(sid, kind, record_id)
        return self.view(sid, kind, found[1], found[2], found[0]) if found else None

    def facts(self, sid: str, record_ids: list[str]) -> dict[str, dict]:
        """Stage verdict and scores of reviewed records (for agreement), found through the index."""
        out = {}
        for rid in record_ids:
            for kind, verdict in (("kept", "accept"), ("rejected", "reject")):
                found = self.locate(sid, kind, rid)
                if found:
                    meta = record_of(found[2], kind).get("meta") or {}
                    out[rid] = {"verdict": verdict, "scores": meta.get("scores") or {}}
                    break
        return out

    def lookup(self, record_id: str) -> list[dict]:
        """Every stage file holding `record_id` (for provenance click-through)."""
        found = []
        for sid in self.stage_ids():
            for kind in KINDS:
                hit = self.locate(sid, kind, record_id)
                if hit is not None:
                    found.append({"stage": sid, "kind": kind, "row": hit[1]})
        return found

    # -- decisions --------------------------------------------------------------------------
    def decide(self, body: dict, reviewer: str) -> dict:
        sid = self.check_stage(str(body.get("stage", "")))
        rid = body.get("record_id")
        line = make_decision(rid, body.get("action"), reviewer, body.get("reason"), body.get("messages"))
        if self.locate(sid, "kept", rid) is None and self.locate(sid, "rejected", rid) is None:
            raise InputError(f"record_id: no record {rid!r} in stage {sid}")
        append_decisions(decisions_path(self.root, sid), [line])
        return line

    def decide_bulk(self, sid: str, query: Query, body: dict, reviewer: str) -> int:
        """One decision for every record matching `query` (accept, reject or flag)."""
        action = body.get("action")
        if action not in ("accept", "reject", "flag"):
            raise ConfigError("action: bulk actions are accept, reject or flag")
        idx, rows = self.select(self.check_stage(sid), query)
        if idx is None or not len(rows):
            return 0
        if len(rows) > BULK_MAX:
            raise ConfigError(f"bulk: {len(rows)} records match; narrow the filter to at most {BULK_MAX}")
        lines = [make_decision(line_id(obj, query.kind, int(idx.offsets[row])), action, reviewer,
                               body.get("reason"))
                 for row, obj in zip(rows, idx.read_rows(rows))]
        append_decisions(decisions_path(self.root, sid), lines)
        return len(lines)


def default_reviewer(name: str | None) -> str:
    import getpass

    if name:
        return name
    try:
        return getpass.getuser() or "reviewer"
    except Exception:  # no user name in a container: any label will do
        return "reviewer"


__all__ = ["ReviewStore", "RunDir", "default_reviewer"]
