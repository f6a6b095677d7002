"""A small OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks, scripted per test.

Serves `/v1/models`, `/v1/chat/completions`, `/v1/completions`, `/v1/files` (+ content) and
`/v1/batches` (create, retrieve, list, cancel). Replies come from `server.reply_fn(call)`, a
function of the request (see `FakeCall` and the reply helpers `ok`, `error`, `reset`, `hang`,
`raw`); it counts hits per request key (`X-Client-Request-Id`, else a hash of the body).
Run standalone for benchmarks: `python -m tests.fake_openai --latency 0.5` prints the port.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from tests.fake_batches import BatchBook

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           408: "Request Timeout", 409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass
class FakeCall:
    """One request as the reply function sees it. `attempt` counts hits of the same key (1-based)."""

    method: str
    path: str
    headers: dict
    body: Any
    key: str
    attempt: int

    @property
    def messages(self) -> list[dict]:
        return (self.body or {}).get("messages") or []

    @property
    def last_user(self) -> str:
        users = [m.get("content", "") for m in self.messages if m.get("role") == "user"]
        return users[-1] if users else (self.body or {}).get("prompt", "")


@dataclass
class FakeReply:
    status: int = 200
    body: Any = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    action: str = "send"          # send | reset | hang
    raw_bytes: bytes | None = None


def completion_body(call_body: dict, text: str | None, finish_reason: str = "stop",
                    refusal: str | None = None, tokens_in: int | None = None,
                    tokens_out: int | None = None, model: str | None = None) -> dict:
    """A chat (or legacy completion) response body for `text`."""
    prompt_text = json.dumps(call_body.get("messages") or call_body.get("prompt") or "")
    t_in = tokens_in if tokens_in is not None else max(1, len(prompt_text) // 4)
    t_out = tokens_out if tokens_out is not None else max(0, len(text or "") // 4)
    usage = {"prompt_tokens": t_in, "completion_tokens": t_out, "total_tokens": t_in + t_out}
    model = model or call_body.get("model", "fake-model")
    if "prompt" in call_body and "messages" not in call_body:
        return {"id": "cmpl-fake", "object": "text_completion", "model": model, "usage": usage,
                "choices": [{"index": 0, "text": text, "finish_reason": finish_reason}]}
    message = {"role": "assistant", "content": text, "refusal": refusal}
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "usage": usage, "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}]}


def ok(text: str | None = "ok", **kw: Any) -> Callable[[FakeCall], FakeReply]:
    """A 200 completion with `text` (kw: finish_reason, refusal, tokens_in/out, model, delay)."""
    delay = kw.pop("delay", 0.0)
    return lambda call: FakeReply(200, completion_body(call.body or {}, text, **kw), delay=delay)


def error(status: int, message: str = "error", *, code: str | None = None, type_: str | None = None,
          headers: dict | None = None, delay: float = 0.0) -> FakeReply:
    body = {"error": {"message": message, "type": type_ or "invalid_request_error", "code": code,
                      "param": None}}
    return FakeReply(status, body, dict(headers or {}), delay)


def reset() -> FakeReply:
    """Close the connection without answering (a connection reset)."""
    return FakeReply(action="reset")


def hang(seconds: float, then: FakeReply | None = None) -> FakeReply:
    """Answer after `seconds` (past the client's timeout the request is processed but unread)."""
    reply = then or FakeReply(200, None)
    reply.delay = seconds
    return reply


def raw(status: int, data: bytes, content_type: str = "application/json") -> FakeReply:
    return FakeReply(status, None, {"content-type": content_type}, raw_bytes=data)


def echo(call: FakeCall) -> FakeReply:
    """Default reply: `answer: <last user turn>`."""
    return FakeReply(200, completion_body(call.body or {}, f"answer: {call.last_user}"))


def per_attempt(*replies: Any) -> Callable[[FakeCall], FakeReply]:
    """Reply `replies[attempt-1]` for each key (the last one repeats); items may be functions."""
    def fn(call: FakeCall) -> FakeReply:
        item = replies[min(call.attempt, len(replies)) - 1]
        return item(call) if callable(item) else item
    return fn


def body_key(body: Any) -> str:
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


class FakeOpenAI:
    """The server. `reply_fn(call) -> FakeReply` answers completions; `latency` delays every one."""

    def __init__(self, latency: float = 0.0, reply_fn: Callable[[FakeCall], FakeReply] | None = None):
        self.latency = latency
        self.reply_fn = reply_fn or echo
        self.models_fn: Callable[[FakeCall], FakeReply] | None = None  # scripts GET /models
        self.hits: Counter = Counter()          # completions per request key
        self.paths: Counter = Counter()         # requests per "METHOD /path"
        self.calls: list[FakeCall] = []
        self.keep_calls = True
        self.auth_seen: set[str] = set()
        self.inflight = 0                       # completions being answered now, and the most at once
        self.max_inflight = 0
        self.batches = BatchBook(self)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "FakeOpenAI":
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve_forever, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def _serve_forever(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=4096))
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    def stop(self) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    async def _shutdown(self) -> None:
        self._server.close()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def reset_counts(self) -> None:
        with self._lock:
            self.hits.clear()
            self.paths.clear()
            self.calls.clear()

    @property
    def completions(self) -> int:
        return sum(self.hits.values())

    # -- HTTP ---------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target, headers = parse_head(head)
                body = await read_body(reader, headers)
                keep = await self._respond(writer, method, target, headers, body)
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError,
                asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _respond(self, writer, method: str, target: str, headers: dict, body: bytes) -> bool:
        url = urlsplit(target)
        path = url.path[3:] if url.path.startswith("/v1") else url.path
        if "authorization" in headers:
            self.auth_seen.add(headers["authorization"])
        with self._lock:
            self.paths[f"{method} {path}"] += 1
        completion = path in ("/chat/completions", "/completions") and method == "POST"
        if completion:
            reply = self._completion(path, headers, body)
        elif path == "/models" and self.models_fn is not None:
            reply = self.models_fn(FakeCall(method, path, headers, None, "models", self.paths[f"{method} {path}"]))
        else:
            reply = self.batches.route(method, path, parse_qs(url.query), headers, body)
        if not completion:
            return await self._send(writer, reply, 0.0)
        self.inflight += 1  # counted on the server's own loop: no lock needed
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            return await self._send(writer, reply, self.latency)
        finally:
            self.inflight -= 1

    async def _send(self, writer, reply: FakeReply, latency: float) -> bool:
        delay = reply.delay + latency
        if delay:
            await asyncio.sleep(delay)
        if reply.action == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if reply.raw_bytes is not None:
            data = reply.raw_bytes
        elif isinstance(reply.body, (bytes, bytearray)):
            data = bytes(reply.body)
        else:
            data = json.dumps(reply.body).encode()
        hdrs = {"content-type": "application/json", "x-request-id": "req_fake"}
        hdrs.update(reply.headers)
        lines = [f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}",
                 f"content-length: {len(data)}"] + [f"{k}: {v}" for k, v in hdrs.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        try:
            await writer.drain()
        except ConnectionError:
            return False
        return True

    def _completion(self, path: str, headers: dict, body: bytes) -> FakeReply:
        try:
            obj = json.loads(body)
        except ValueError:
            return error(400, "body is not JSON")
        key = headers.get("x-client-request-id") or body_key(obj)
        with self._lock:
            self.hits[key] += 1
            call = FakeCall("POST", path, headers, obj, key, self.hits[key])
            if self.keep_calls:
                self.calls.append(call)
        return self.reply_fn(call)

    def answer(self, body: dict, key: str) -> FakeReply:
        """The reply for one batch line (counted as a hit, like an online request)."""
        with self._lock:
            self.hits[key] += 1
            call = FakeCall("POST", "/chat/completions", {}, body, key, self.hits[key])
        return self.reply_fn(call)


def parse_head(head: bytes) -> tuple[str, str, dict]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return method, target, headers


async def read_body(reader: asyncio.StreamReader, headers: dict) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                return b"".join(chunks)
            chunks.append(data[:-2])
    n = int(headers.get("content-length", "0") or 0)
    return await reader.readexactly(n) if n else b""


def parse_multipart(headers: dict, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """`{field: (filename, bytes)}` of a multipart/form-data body."""
    msg = BytesParser(policy=HTTP).parsebytes(
        f"content-type: {headers['content-type']}\r\n\r\n".encode() + body)
    out = {}
    for part in msg.iter_parts():
        out[part.get_param("name", header="content-disposition")] = (part.get_filename(),
                                                                     part.get_payload(decode=True))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="fake OpenAI-compatible server (prints its port)")
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = FakeOpenAI(latency=args.latency)
    server.keep_calls = False
    server.port = args.port
    server.start()
    print(server.port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
