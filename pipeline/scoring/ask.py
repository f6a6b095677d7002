"""Ask a scorer, re-ask on an unusable reply, fail closed; run scoring workflows in input order.

A re-ask continues the conversation: the unusable reply as the assistant turn, then a short
correction naming the problem. The request is thus a pure function of the record and of the
earlier replies, so a resumed run asks the very same questions and the cache answers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Iterator

from pydantic import Field

from pipeline.gen.calls import in_order as index_order
from pipeline.llm.replies import problem
from pipeline.llm.types import AsyncAsk, Reply, Request
from pipeline.ops.base import Params, StageContext
from pipeline.record import Record, Rejected
from pipeline.scoring.layout import reask_message
from pipeline.scoring.parse import Failure

DEFAULT_REASKS = 2
Workflow = Callable[[AsyncAsk], Awaitable[Any]]


class ScorerParams(Params):
    """Parameters every scoring op has."""

    reasks: int | None = Field(None, ge=0, description="re-asks of an unusable answer "
                                                       "(default: the stage's llm.max_reasks)")


@dataclass
class Outcome:
    """A parsed value, or the failure of the last attempt; `raw` holds every reply's text."""

    value: Any = None
    failure: Failure | None = None
    raw: list = field(default_factory=list)
    reply: Reply | None = None
    flags: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None


_PROBLEMS = {"refusal": "the reply was a refusal", "empty": "the reply was empty",
             "incomplete": "the reply was cut off"}


def reply_failure(reply: Reply) -> Failure | None:
    """Why a reply is unusable before any parsing (the LLM layer's rule): refusal, empty, cut off."""
    why = problem(reply)
    return Failure(why, _PROBLEMS.get(why, why)) if why else None


async def ask_parsed(ask: AsyncAsk, messages: list[dict], parse: Callable[[Reply], Any],
                     reask_prompt: str, reasks: int, *, reask_values: dict | None = None,
                     **params: Any) -> Outcome:
    """Ask; while the reply is unusable and re-asks remain, correct and ask again
    (`reask_values`: more variables of the re-ask prompt)."""
    convo, raw = list(messages), []
    failure = Failure("empty", "no reply")
    for _ in range(reasks + 1):
        reply = await ask(Request.chat(convo, **params))
        if reply.error is not None:
            return Outcome(failure=Failure("llm_error", reply.error), raw=raw, reply=reply)
        raw.append(reply.text)
        value = reply_failure(reply) or parse(reply)
        if not isinstance(value, Failure):
            return Outcome(value, None, raw, reply)
        failure = value
        convo += [{"role": "assistant", "content": reply.text or ""},
                  reask_message(reask_prompt, failure.message, **(reask_values or {}))]
    return Outcome(failure=failure, raw=raw)


def rejection(rec: Record, outcome: Outcome, prefix: str) -> Rejected:
    """The record rejected for its scorer's failure (`<prefix>_<code>`, or `llm_error`), raw kept."""
    code = outcome.failure.code if outcome.failure else "failed"
    reason = code if code == "llm_error" else f"{prefix}_{code}"
    return Rejected(reason, outcome.failure.message if outcome.failure else "", record=rec,
                    extra={"raw": outcome.raw})


def with_scores(rec: Record, scores: dict, flags: Iterable[str] = (), **meta: Any) -> Record:
    """A copy of `rec` with `scores` merged into `meta.scores` and `flags` added to `meta.flags`
    (the input is not changed)."""
    new_meta = dict(rec.meta)
    new_meta["scores"] = {**(rec.meta.get("scores") or {}), **scores}
    if flags:
        new_meta["flags"] = list(dict.fromkeys([*(rec.meta.get("flags") or []), *flags]))
    new_meta.update(meta)
    return Record(rec.id, rec.messages, new_meta)


def reask_limit(ctx: StageContext, override: int | None) -> int:
    """Re-asks allowed: the op's `reasks`, else the stage's `llm.max_reasks`, else 2."""
    if override is not None:
        return override
    settings = getattr(ctx.llm, "settings", None)
    return int(getattr(settings, "max_reasks", DEFAULT_REASKS))


def in_order(ctx: StageContext, workflows: Iterable[Workflow]) -> Iterator[Any]:
    """Run workflows concurrently (`ctx.llm.run_tasks`); yield their results in input order,
    so a stage's output order does not depend on which reply came first."""
    def numbered() -> Iterator[Workflow]:
        for i, wf in enumerate(workflows):
            async def task(ask: AsyncAsk, i: int = i, wf: Workflow = wf) -> tuple[int, Any]:
                return i, await wf(ask)
            yield task

    yield from index_order(ctx.llm.run_tasks(numbered()))
