"""Requests made concrete: the API body of a `Request` under a stage's settings, and its cache key.

The key hashes the endpoint (base URL without credentials, path; a fleet's first server by
sorted URL, with the keys under its other servers as aliases: see fleet.py), the body (model, messages
or prompt, sampling parameters, response format), the sample index and key-only parameters
(names starting with `_`, e.g. `_reask`); never the API key, concurrency or output paths.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pipeline.llm.settings import LLMSettings
from pipeline.llm.types import Request

SAMPLING = ("temperature", "top_p", "max_tokens", "seed", "stop")
CHAT_PATH, COMPLETIONS_PATH = "/chat/completions", "/completions"


@dataclass(slots=True)
class Prepared:
    """A request ready to send: its key, API path, JSON body and canonical text (stored)."""

    key: str
    path: str
    body: dict
    canon: str
    request: Request
    estimate: int

    @property
    def model(self) -> str:
        return self.body["model"]


def request_body(request: Request, settings: LLMSettings, model: str) -> tuple[str, dict, dict]:
    """`(path, body, key_only_params)`; a `None` param removes the stage default."""
    body: dict[str, Any] = {"model": model}
    for name in SAMPLING:
        value = getattr(settings, name)
        if value is not None:
            body[name] = value
    key_only = {}
    for name, value in request.params:
        if name.startswith("_"):
            key_only[name] = value
        elif value is None:
            body.pop(name, None)
        else:
            body[name] = value
    if request.prompt is not None:
        body["prompt"] = request.prompt
        return COMPLETIONS_PATH, body, key_only
    body["messages"] = [dict(m) for m in request.messages]
    return CHAT_PATH, body, key_only


def prepare(request: Request, settings: LLMSettings, model: str, endpoint: str) -> Prepared:
    """Body and key of `request`; `endpoint` is the public base URL (no credentials)."""
    path, body, key_only = request_body(request, settings, model)
    doc = {"endpoint": endpoint + path, "body": body, "sample": request.sample, "key_params": key_only}
    canon = canonical_json(doc)
    return Prepared(digest(canon), path, body, canon, request, estimate_tokens(body))


def canonical_json(doc: dict) -> str:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def digest(canon: str) -> str:
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()[:32]


def keys_elsewhere(prep: Prepared, others: list[str]) -> tuple[str, ...]:
    """The keys `prep` has under each of `others` instead of its endpoint (a fleet's other servers)."""
    doc = json.loads(prep.canon)
    out = []
    for other in others:
        doc["endpoint"] = other + prep.path
        out.append(digest(canonical_json(doc)))
    return tuple(out)


def estimate_tokens(body: dict) -> int:
    """A rough token count of a request (prompt by characters/4, plus the output allowance)."""
    if "messages" in body:
        chars = sum(len(str(m.get("content") or "")) + 8 for m in body["messages"])
    else:
        chars = len(body.get("prompt") or "")
    return chars // 4 + 1 + int(body.get("max_tokens") or 0)
