"""Re-asking: the same request again, as a distinct cache entry, while its reply is unusable.

A re-ask carries the key-only parameter `_reask=k`, so each attempt is cached on its own and a
resumed run replays the same chain from the cache without sending anything.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from pipeline.llm.replies import problem
from pipeline.llm.types import AsyncAsk, Reply, Request


def reask_request(request: Request, attempt: int) -> Request:
    """`request` for attempt `attempt` (0 is the request itself)."""
    if attempt == 0:
        return request
    params = dict(request.params)
    params["_reask"] = attempt
    return dataclasses.replace(request, params=tuple(sorted(params.items())))


async def ask_with_reasks(ask: AsyncAsk, request: Request, limit: int,
                          check: Callable[[Reply], str | None] = problem) -> tuple[Reply, str | None]:
    """Ask, then re-ask up to `limit` times while `check` names a problem; `llm_error` is final.

    Returns the last reply and its problem (None when it is usable).
    """
    reply, why = None, None
    for attempt in range(limit + 1):
        reply = await ask(reask_request(request, attempt))
        why = check(reply)
        if why is None or why == "llm_error":
            break
    return reply, why
