"""A minimal OpenAI-compatible server for benchmarks: as little CPU per request as asyncio allows.

tests/fake_openai.py parses every request fully (it is scripted per test); on a 2-core machine it
would take as much CPU as the client it serves, and a benchmark of the client would measure it
instead. This one answers `POST .../chat/completions` with one fixed reply and `GET .../models`
with one model, reading only the request line and Content-Length: a few tens of microseconds a
request. `python bench/fast_openai.py [--port P]` prints its port.
"""

from __future__ import annotations

import argparse
import asyncio
import json

REPLY = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "A short answer from the benchmark server."}}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
}).encode()
MODELS = json.dumps({"object": "list", "data": [{"id": "bench", "object": "model", "owned_by": "bench"}]}).encode()


def response(body: bytes, status: bytes = b"200 OK") -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip() == b"content-length":
            return int(value)
    return 0


class Handler(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport, self.buf = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            size = content_length(head)
            if len(self.buf) < end + 4 + size:
                return
            self.buf = self.buf[end + 4 + size:]
            line = head.split(b"\r\n", 1)[0]
            if line.startswith(b"post") and b"/chat/completions" in line:
                self.transport.write(response(REPLY))
            elif line.startswith(b"get") and b"/models" in line:
                self.transport.write(response(MODELS))
            else:
                self.transport.write(response(b'{"error": {"message": "not found"}}', b"404 Not Found"))


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Handler, "127.0.0.1", port, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    asyncio.run(serve(ap.parse_args().port))


if __name__ == "__main__":
    main()
