"""LLM call helpers shared by the generation ops: chat or completion requests, replies in request
order, and what makes a reply unusable.

Completion-style endpoints (`llm.endpoint: completions`) get the prompt text as it is; chat
endpoints get it as one user message (the prompts carry a chat variant of their closing line).
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from pipeline.llm.replies import describe, problem
from pipeline.llm.types import Reply, Request
from pipeline.ops.base import StageContext


def uses_completions(ctx: StageContext) -> bool:
    """True when the stage's `llm.endpoint` is `completions` (the client exposes its settings)."""
    settings = getattr(ctx.llm, "settings", None)
    endpoint = getattr(settings, "endpoint", None) or ctx.extra.get("llm_endpoint")
    return endpoint == "completions"


def text_request(prompt: str, *, completion: bool, sample: int = 0, tag: Any = None,
                 system: str | None = None, **params: Any) -> Request:
    """A request for `prompt`: completion text, or a chat turn (after `system`, if given)."""
    if completion:
        return Request.completion(prompt, sample=sample, tag=tag, **params)
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    return Request.chat(messages, sample=sample, tag=tag, **params)


def ask_all(ctx: StageContext, requests: list[Request]) -> list[Reply]:
    """Send `requests` concurrently; return the replies in request order.

    Each request's `tag` must be its index in the list (the layer answers in any order).
    """
    if not requests:
        return []
    out: list[Reply | None] = [None] * len(requests)
    for reply in ctx.llm.run(requests):
        out[reply.request.tag] = reply
    missing = [i for i, r in enumerate(out) if r is None]
    if missing and len(missing) == len(out):
        from pipeline.llm.dryrun import DryRunLLM, FirstRoundDone

        if isinstance(ctx.llm, DryRunLLM):  # `run --dry-run` records the first round, answers none
            raise FirstRoundDone()
    if missing:
        raise RuntimeError(f"the LLM layer returned no reply for requests {missing[:5]}")
    return out  # type: ignore[return-value]


def tagged(requests: Iterable[Request]) -> list[Request]:
    """The requests with `tag` set to their index (for `ask_all`)."""
    return [Request(r.messages, r.prompt, r.params, r.sample, i) for i, r in enumerate(requests)]


TRUNCATION = ("length", "model_length", "max_tokens")


def reply_problem(reply: Reply, *, allow_truncated: bool = False,
                  refusal_prose: bool = True) -> tuple[str, str] | None:
    """Why a reply gives nothing to use: (reason, detail), or None.

    The LLM layer's verdict (`llm_error`, `refusal`, `empty`, `incomplete`), except that a reply
    cut off by the length limit is `truncated`, or usable for lists (`allow_truncated`: its
    complete items are kept and only the last one is dropped).
    """
    why = problem(reply, refusal_prose=refusal_prose)
    if why == "incomplete" and reply.finish_reason in TRUNCATION:
        return None if allow_truncated else ("truncated", describe(reply))
    return (why, describe(reply)) if why else None


def model_of(reply: Reply) -> str | None:
    """The model that answered, as the response names it."""
    raw = reply.raw
    model = raw.get("model") if isinstance(raw, dict) else None
    return model if isinstance(model, str) and model else None


def in_order(results: Iterable[tuple[int, Any]]) -> Iterator[Any]:
    """Values of `(index, value)` pairs arriving in any order, yielded in index order as soon as
    every earlier index has arrived (deterministic output without waiting for the end)."""
    pending: dict[int, Any] = {}
    nxt = 0
    for index, value in results:
        pending[index] = value
        while nxt in pending:
            yield pending.pop(nxt)
            nxt += 1
    if pending:
        raise RuntimeError(f"results missing before index {min(pending)}")
