"""The contract between LLM ops and the LLM layer: `Request`, `Reply` and `StageLLM`.

An LLM op builds `Request`s (pure `build_messages`), hands them to `ctx.llm`, and parses the
`Reply`s (pure `parse`). The layer owns transport: concurrency, rate limits, retries, the
request cache, accounting into the stage counters, budgets and batch mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Iterator, Protocol


@dataclass(frozen=True)
class Request:
    """One model call. Everything but `tag` is part of the cache key.

    `messages` for chat endpoints, or `prompt` for completion-style endpoints. `params`
    overrides the stage's sampling settings (temperature, top_p, max_tokens, stop,
    response_format, model). `sample` is the sample index (n samples = n requests).
    """

    messages: tuple[dict, ...] = ()
    prompt: str | None = None
    params: tuple[tuple[str, Any], ...] = ()
    sample: int = 0
    tag: Any = field(default=None, compare=False, hash=False)

    @staticmethod
    def chat(messages: list[dict], *, sample: int = 0, tag: Any = None, **params: Any) -> "Request":
        return Request(tuple({"role": m["role"], "content": m["content"]} for m in messages), None,
                       tuple(sorted(params.items())), sample, tag)

    @staticmethod
    def completion(prompt: str, *, sample: int = 0, tag: Any = None, **params: Any) -> "Request":
        return Request((), prompt, tuple(sorted(params.items())), sample, tag)


@dataclass
class Reply:
    """What came back for a request.

    `text` is the content (None when there is none). `complete` is True only when
    `finish_reason == "stop"`: anything else (length, content_filter, ...) is incomplete and
    must not be exported as complete. `error` is set for a request that failed for good
    (e.g. HTTP 400): the op rejects that record with the error. `raw` is the stored response.
    """

    request: Request
    text: str | None
    finish_reason: str | None = None
    refusal: str | None = None
    error: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cached: bool = False
    raw: Any = None

    @property
    def complete(self) -> bool:
        return self.error is None and self.finish_reason == "stop"

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


class AsyncAsk(Protocol):
    async def __call__(self, request: Request) -> Reply: ...


class StageLLM(Protocol):
    """`ctx.llm` of an LLM stage."""

    def run(self, requests: Iterable[Request]) -> Iterator[Reply]:
        """Send requests concurrently; yield replies as they arrive (any order)."""

    def ask(self, request: Request) -> Reply:
        """One request, synchronously (for small sequential steps)."""

    def run_tasks(self, tasks: Iterable[Callable[[AsyncAsk], Awaitable[Any]]]) -> Iterator[Any]:
        """Run many async workflows (e.g. one conversation each) concurrently; each awaits
        `ask(request)` as often as it needs; yield each workflow's result as it finishes."""

    def close(self) -> None: ...
