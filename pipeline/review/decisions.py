"""The decisions file `<run>/reviews/<stage>.jsonl`: reviewers' verdicts, appended, never rewritten.

One JSON line per decision: `record_id`, `action` (accept, reject, edit, flag), `reason`, `messages`
(edits only), `reviewer`, `time`. Each line is written with a single `write` on an O_APPEND
descriptor under an exclusive `flock`, then fsynced: concurrent servers or threads never interleave
lines, and a process killed mid-write leaves at most a torn last line, which readers skip (and the
next append starts on a fresh line).

The latest decision of each reviewer on a record counts. For the `review` op the record's verdict
is the newest accept/reject/edit among those; a flag alone decides nothing.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from pipeline.errors import ConfigError, InputError
from pipeline.record import check_messages

ACTIONS = ("accept", "reject", "edit", "flag")
REVIEWS_DIR = "reviews"
_APPEND_LOCK = threading.Lock()


def decisions_path(run_dir: Path, stage_id: str) -> Path:
    return Path(run_dir) / REVIEWS_DIR / f"{stage_id}.jsonl"


def make_decision(record_id: Any, action: Any, reviewer: Any, reason: Any = None,
                  messages: Any = None) -> dict:
    """A checked decision line; ConfigError names the field that is wrong."""
    if not isinstance(record_id, str) or not record_id:
        raise ConfigError("record_id: expected a non-empty string")
    if action not in ACTIONS:
        raise ConfigError(f"action: expected one of {', '.join(ACTIONS)}, got {action!r}")
    if not isinstance(reviewer, str) or not reviewer.strip() or len(reviewer) > 100:
        raise ConfigError("reviewer: expected a name (1-100 characters)")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 2000):
        raise ConfigError("reason: expected text (at most 2000 characters)")
    out: dict[str, Any] = {"record_id": record_id, "action": action, "reason": reason or None,
                           "reviewer": reviewer.strip(),
                           "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if action == "edit":
        problems = check_messages(messages)
        if problems:
            raise ConfigError(str(problems[0]))  # names the field: messages[1].content: ...
        out["messages"] = [{"role": m["role"], "content": m["content"]} for m in messages]
    elif messages is not None:
        raise ConfigError("messages: only an edit carries messages")
    return out


def append_decisions(path: Path, lines: list[dict]) -> None:
    """Append decision lines crash-safely (one locked write, fsync); never rewrites a byte."""
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(orjson.dumps(d) + b"\n" for d in lines)
    with _APPEND_LOCK:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a killed writer left a torn line: start ours on a fresh one
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as e:
            raise InputError(f"{path}: write failed: {e.strerror}") from None
        finally:
            os.close(fd)


@dataclass
class Verdict:
    """What the decisions say about one record."""

    action: str | None = None          # accept, reject or edit (None: nobody decided)
    reason: str | None = None
    reviewer: str | None = None
    messages: list | None = None        # the newest edit, applied unless rejected
    edited_by: str | None = None
    flagged: bool = False


@dataclass
class DecisionLog:
    """The decisions of one stage, read incrementally (lines appended since the last read)."""

    path: Path
    lines: list[dict] = field(default_factory=list)
    torn: int = 0
    _offset: int = 0
    _by_record: dict[str, list[dict]] = field(default_factory=dict)

    def refresh(self) -> DecisionLog:
        """Read what was appended since the last call; a torn or garbled line is skipped."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return self
        if size <= self._offset:
            return self
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read(size - self._offset)
        end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next read
        self._offset += end
        for raw in chunk[:end].split(b"\n"):
            if raw.strip():
                self._add(raw)
        return self

    def _add(self, raw: bytes) -> None:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.torn += 1
            return
        if not isinstance(obj, dict) or obj.get("action") not in ACTIONS or not obj.get("record_id"):
            self.torn += 1
            return
        self.lines.append(obj)
        self._by_record.setdefault(str(obj["record_id"]), []).append(obj)

    def of(self, record_id: str) -> list[dict]:
        """The latest decision of each reviewer on `record_id`, oldest first."""
        latest: dict[str, dict] = {}
        for d in self._by_record.get(record_id, ()):
            latest.pop(d.get("reviewer"), None)
            latest[d.get("reviewer")] = d
        return list(latest.values())

    def history(self, record_id: str) -> list[dict]:
        return list(self._by_record.get(record_id, ()))

    def record_ids(self) -> list[str]:
        return list(self._by_record)

    def verdict(self, record_id: str) -> Verdict:
        v = Verdict()
        for d in self.of(record_id):
            if d["action"] == "flag":
                v.flagged = True
                continue
            v.action, v.reason, v.reviewer = d["action"], d.get("reason"), d.get("reviewer")
        for d in self.history(record_id):
            if d["action"] == "edit":
                v.messages, v.edited_by = d.get("messages"), d.get("reviewer")
        return v

    def reviewers(self) -> list[str]:
        return sorted({str(d.get("reviewer")) for d in self.lines})


def load_log(run_dir: Path, stage_id: str) -> DecisionLog:
    return DecisionLog(decisions_path(run_dir, stage_id)).refresh()
