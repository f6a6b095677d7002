"""The Files and Batch API of the fake OpenAI server: uploads, batches and their scripted lifecycles.

A batch moves one state per `retrieve` through `BatchScript.states`; on reaching a terminal
state its lines are answered by the server's `reply_fn` (counted as hits per `custom_id`) and
its output and error files are written, optionally mangled by `BatchScript.mangle`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass
class BatchScript:
    """How batches behave. `states` are shown on successive retrieves; the last is the end state.

    `answered`: for expired/cancelled, how many lines were answered (the rest get
    `batch_expired`); `validation_errors` for `failed`; `mangle(out_lines, err_lines)` may
    shuffle or break the files; `create_delay` answers `batches.create` late (after creating);
    `upload_delay` answers a file upload late (after storing the file).
    """

    states: tuple[str, ...] = ("validating", "in_progress", "finalizing", "completed")
    answered: int | None = None
    validation_errors: list[dict] = field(default_factory=list)
    mangle: Callable[[list[str], list[str]], tuple[list[str], list[str]]] | None = None
    create_delay: float = 0.0
    upload_delay: float = 0.0


@dataclass
class FakeFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def obj(self) -> dict:
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed"}


class BatchBook:
    def __init__(self, server: Any):
        self.server = server
        self.script = BatchScript()
        self.scripts: list[BatchScript] = []   # per created batch, in order (the last repeats)
        self.script_of: dict[str, BatchScript] = {}
        self.files: dict[str, FakeFile] = {}
        self.batches: dict[str, dict] = {}
        self.polls: dict[str, int] = {}
        self.created = 0
        self.uploads = 0
        self._lock = threading.Lock()

    def route(self, method: str, path: str, query: dict, headers: dict, body: bytes):
        from tests.fake_openai import FakeReply, error

        parts = [p for p in path.split("/") if p]
        try:
            if parts == ["models"]:
                return FakeReply(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
            if parts[:1] == ["files"]:
                return self._files(method, parts[1:], query, headers, body)
            if parts[:1] == ["batches"]:
                return self._batches(method, parts[1:], query, body)
        except KeyError as e:
            return error(404, f"no such object {e}")
        return error(404, f"unknown path {path}")

    # -- files --------------------------------------------------------------------------------
    def _files(self, method: str, rest: list[str], query: dict, headers: dict, body: bytes):
        from tests.fake_openai import FakeReply, parse_multipart, raw

        if method == "POST" and not rest:
            form = parse_multipart(headers, body)
            filename, data = form["file"]
            purpose = form["purpose"][1].decode()
            with self._lock:
                self.uploads += 1
                fid = f"file-{len(self.files) + 1:04d}"
                self.files[fid] = FakeFile(fid, filename or "upload.jsonl", purpose, data, int(time.time()))
            delay = (self.scripts[0] if self.scripts else self.script).upload_delay
            return FakeReply(200, self.files[fid].obj(), delay=delay)
        if method == "GET" and not rest:
            purpose = query.get("purpose", [None])[0]
            data = [f.obj() for f in self.files.values() if purpose in (None, f.purpose)]
            return FakeReply(200, {"object": "list", "data": data[::-1], "has_more": False})
        if method == "GET" and len(rest) == 1:
            return FakeReply(200, self.files[rest[0]].obj())
        if method == "GET" and rest[1:] == ["content"]:
            return raw(200, self.files[rest[0]].data, "application/octet-stream")
        raise KeyError(rest)

    def add_file(self, lines: list[str], purpose: str) -> str | None:
        if not lines:
            return None
        fid = f"file-{len(self.files) + 1:04d}"
        data = "".join(line if line.endswith("\n") else line + "\n" for line in lines).encode()
        self.files[fid] = FakeFile(fid, f"{fid}.jsonl", purpose, data, int(time.time()))
        return fid

    # -- batches ------------------------------------------------------------------------------
    def _batches(self, method: str, rest: list[str], query: dict, body: bytes):
        from tests.fake_openai import FakeReply

        if method == "POST" and not rest:
            req = json.loads(body)
            self.files[req["input_file_id"]]  # noqa: B018 - KeyError -> 404
            with self._lock:
                self.created += 1
                bid = f"batch_{len(self.batches) + 1:04d}"
                script = self.scripts[min(self.created, len(self.scripts)) - 1] if self.scripts else self.script
                self.script_of[bid] = script
                self.batches[bid] = {
                    "id": bid, "object": "batch", "endpoint": req["endpoint"], "errors": None,
                    "input_file_id": req["input_file_id"], "completion_window": req["completion_window"],
                    "status": script.states[0], "output_file_id": None, "error_file_id": None,
                    "created_at": int(time.time()), "metadata": req.get("metadata") or {},
                    "request_counts": {"total": 0, "completed": 0, "failed": 0}}
                self.polls[bid] = 0
            return FakeReply(200, dict(self.batches[bid]), delay=script.create_delay)
        if method == "GET" and not rest:
            return FakeReply(200, self._list(query))
        batch = self.batches[rest[0]]
        if method == "GET" and len(rest) == 1:
            self._advance(batch)
            return FakeReply(200, dict(batch))
        if method == "POST" and rest[1:] == ["cancel"]:
            if batch["status"] not in TERMINAL:
                batch["status"] = "cancelling"
            return FakeReply(200, dict(batch))
        raise KeyError(rest)

    def _list(self, query: dict) -> dict:
        items = list(self.batches.values())[::-1]
        after = query.get("after", [None])[0]
        if after:
            ids = [b["id"] for b in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        limit = int(query.get("limit", ["20"])[0])
        page = items[:limit]
        return {"object": "list", "data": page, "has_more": len(items) > limit,
                "first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None}

    def _advance(self, batch: dict) -> None:
        if batch["status"] in TERMINAL:
            return
        if batch["status"] == "cancelling":
            self._finish(batch, "cancelled")
            return
        self.polls[batch["id"]] += 1
        states = self.script_of[batch["id"]].states
        nxt = states[min(self.polls[batch["id"]], len(states) - 1)]
        if nxt in TERMINAL:
            self._finish(batch, nxt)
        else:
            batch["status"] = nxt

    def _finish(self, batch: dict, status: str) -> None:
        script = self.script_of[batch["id"]]
        batch["status"] = status
        batch[f"{status}_at"] = int(time.time())
        if status == "failed":
            batch["errors"] = {"object": "list", "data": script.validation_errors}
            return
        lines = self.files[batch["input_file_id"]].data.decode().splitlines()
        answered = len(lines) if status == "completed" or script.answered is None else script.answered
        out, err = [], []
        for n, line in enumerate(lines):
            req = json.loads(line)
            cid = req["custom_id"]
            if n >= answered:
                err.append(json.dumps({"id": f"batch_req_{n}", "custom_id": cid, "response": None,
                                       "error": {"code": "batch_expired", "message": "not finished"}}))
                continue
            reply = self.server.answer(req["body"], cid)
            entry = {"id": f"batch_req_{n}", "custom_id": cid, "error": None,
                     "response": {"status_code": reply.status, "request_id": f"req_{n}",
                                  "body": reply.body}}
            (out if reply.status == 200 else err).append(json.dumps(entry))
        if script.mangle:
            out, err = script.mangle(out, err)
        batch["output_file_id"] = self.add_file(out, "batch_output")
        batch["error_file_id"] = self.add_file(err, "batch_output")
        batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(err)}
