"""LLM call helpers shared by the generation ops: chat or completion requests, replies in request
order, and what makes a reply unusable.

Completion-style endpoints (`llm.endpoint: completions`) get the prompt text as it is; chat
endpoints get it as one user message (the prompts carry a chat variant of their closing line).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Awaitable, Callable, Iterable, Iterator

from pipeline.llm.reask import reask_request
from pipeline.llm.retry import RequestFailed
from pipeline.llm.replies import describe, problem
from pipeline.llm.types import AsyncAsk, Reply, Request
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

    Each request's `tag` must be its index in the list (the layer answers in any order). Empty,
    refused and unfinished replies are asked again, up to the stage's `max_reasks` times, each
    re-ask its own cache entry (so a resumed run replays them); see `reask_reason`.
    """
    replies = _run(ctx, requests)
    for attempt in range(1, max_reasks(ctx) + 1):
        redo = [i for i, r in enumerate(replies) if reask_reason(r)]
        if not redo:
            break
        ctx.count("reasks", len(redo))
        again = [dataclasses.replace(reask_request(requests[i], attempt), tag=j) for j, i in enumerate(redo)]
        for i, reply in zip(redo, _run(ctx, again)):
            replies[i] = reply
    return replies


def _run(ctx: StageContext, requests: list[Request]) -> list[Reply]:
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


def max_reasks(ctx: StageContext) -> int:
    return getattr(getattr(ctx.llm, "settings", None), "max_reasks", 0) or 0


def reask_reason(reply: Reply, refusal_prose: bool = True) -> str | None:
    """Why a reply is worth asking again (`empty`, `refusal`, `incomplete`), or None. A failed
    request (`llm_error`, already retried by the layer) and a cut-off reply are not re-asked."""
    why = reply_problem(reply, refusal_prose=refusal_prose)
    return why[0] if why and why[0] in ("empty", "refusal", "incomplete") else None


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


def run_in_order(ctx: StageContext, tasks: Iterable[Callable[[AsyncAsk], Awaitable[Any]]]) -> Iterator[Any]:
    """Run `tasks` concurrently (`ctx.llm.run_tasks`); yield their results in task order, so a
    stage writes the same bytes however fast each reply comes. A task whose request got no
    answer (the LLM layer reports it at the end) does not hold back the ones after it; results
    that arrive early wait in memory for the earlier ones."""
    failed: set[int] = set()

    def numbered() -> Iterator[Callable[[AsyncAsk], Awaitable[tuple[int, Any]]]]:
        for i, fn in enumerate(tasks):
            async def task(ask: AsyncAsk, i: int = i, fn=fn) -> tuple[int, Any]:
                try:
                    return i, await fn(ask)
                except RequestFailed:
                    failed.add(i)
                    raise
            yield task

    yield from in_order(ctx.llm.run_tasks(numbered()), failed)


def in_order(results: Iterable[tuple[int, Any]], skip: set[int] = frozenset()) -> Iterator[Any]:
    """Values of `(index, value)` pairs arriving in any order, yielded in index order as soon as
    every earlier index has arrived or is in `skip` (deterministic output without waiting for
    the end). When `results` raises, what is ready is yielded first."""
    pending: dict[int, Any] = {}
    nxt = 0

    def ready() -> Iterator[Any]:
        nonlocal nxt
        while nxt in pending or nxt in skip:
            if nxt in pending:
                yield pending.pop(nxt)
            nxt += 1

    source = iter(results)
    while True:
        try:
            index, value = next(source)
        except StopIteration:
            break
        except Exception:
            yield from ready()
            raise
        pending[index] = value
        yield from ready()
    if pending:
        raise RuntimeError(f"results missing before index {min(pending)}")
