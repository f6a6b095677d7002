"""Batch input files (shards within the API's limits) and line-by-line reading of output files.

Input lines are `{custom_id: request key, method: POST, url, body}`; a shard holds one model
and one endpoint. Output and error lines are joined on `custom_id` only, each parsed on its
own: a malformed line, an unknown or repeated id never spoils the other lines.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from pipeline.llm.canonical import Prepared
from pipeline.llm.replies import MalformedResponse, decode_response

OK, FINAL, REQUEUE = "ok", "final", "requeue"


def input_line(prep: Prepared) -> bytes:
    line = {"custom_id": prep.key, "method": "POST", "url": "/v1" + prep.path, "body": prep.body}
    return (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def build_shards(preps: list[Prepared], max_requests: int, max_bytes: int
                 ) -> tuple[list[list[tuple[Prepared, bytes]]], list[Prepared]]:
    """Group requests into shards of one model and endpoint within both limits.

    Returns the shards and the requests too large for any input file on their own.
    """
    groups: dict[tuple[str, str], list[tuple[Prepared, bytes]]] = {}
    too_big = []
    for prep in preps:
        line = input_line(prep)
        if len(line) > max_bytes:
            too_big.append(prep)
        else:
            groups.setdefault((prep.path, prep.model), []).append((prep, line))
    shards = []
    for lines in groups.values():
        current, size = [], 0
        for item in lines:
            if current and (len(current) >= max_requests or size + len(item[1]) > max_bytes):
                shards.append(current)
                current, size = [], 0
            current.append(item)
            size += len(item[1])
        if current:
            shards.append(current)
    return shards, too_big


def shard_hash(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]


@dataclass
class Outcome:
    kind: str                    # ok | final | requeue
    text: str = ""               # response body (ok) or error message
    body: dict | None = None


@dataclass
class Joined:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    problems: list[dict] = field(default_factory=list)   # quarantined lines: {file, line, reason, raw}


def _problem(joined: Joined, source: str, lineno: int, reason: str, raw: str) -> None:
    joined.problems.append({"file": source, "line": lineno, "reason": reason, "raw": raw[:2000]})


def _outcome(entry: dict) -> tuple[Outcome | None, str | None]:
    """What one output/error line says about its request, or the reason it is unusable."""
    response, error = entry.get("response"), entry.get("error")
    if not isinstance(response, dict):
        message = error.get("message", "") if isinstance(error, dict) else ""
        code = error.get("code", "error") if isinstance(error, dict) else "no_response"
        return Outcome(REQUEUE, f"{code}: {message}".strip(": ")), None
    status, body = response.get("status_code"), response.get("body")
    if status == 200:
        if not body:
            return None, "empty_body"
        try:
            return Outcome(OK, json.dumps(body, ensure_ascii=False), decode_response(json.dumps(body))), None
        except MalformedResponse as e:
            return None, f"malformed_body: {e}"
    err = body.get("error") if isinstance(body, dict) else None
    message = f"HTTP {status}: " + (err.get("message", "") if isinstance(err, dict) else str(body)[:300])
    if isinstance(err, dict) and err.get("code"):
        message += f" ({err['code']})"
    if isinstance(status, int) and (status in (408, 409, 429) or status >= 500):
        return Outcome(REQUEUE, message), None
    return Outcome(FINAL, message), None


def join_lines(joined: Joined, source: str, data: bytes, wanted: set[str]) -> None:
    """Read one output or error file into `joined` (first copy of an id wins)."""
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        text = raw.decode("utf-8", "replace")
        try:
            entry = json.loads(text)
        except ValueError:
            _problem(joined, source, lineno, "malformed_line", text)
            continue
        cid = entry.get("custom_id") if isinstance(entry, dict) else None
        if cid not in wanted:
            _problem(joined, source, lineno, "unknown_custom_id", text)
            continue
        if cid in joined.outcomes:
            _problem(joined, source, lineno, "duplicate_custom_id", text)
            continue
        outcome, bad = _outcome(entry)
        if bad:
            _problem(joined, source, lineno, bad, text)
            continue
        joined.outcomes[cid] = outcome
