"""Runtime pieces shared by the conversation ops: one checked turn, per-seed tasks, the final item.

Every turn is its own cached request, re-asked (as a distinct cache entry) while its reply is
empty, refused, cut off or fails the op's own check. A turn that stays bad ends the conversation:
the complete rounds before it are kept, or the seed is rejected with the raw text.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Iterable, Iterator

from pipeline.gen.calls import run_in_order
from pipeline.llm.reask import ask_with_reasks
from pipeline.llm.replies import problem
from pipeline.llm.types import AsyncAsk, Reply, Request
from pipeline.ops.base import StageContext, StageInput
from pipeline.record import Record, Rejected

# Why a reply could not be used (the LLM layer's codes, then the ops' own checks).
PROBLEMS = ("llm_error", "refusal", "empty", "incomplete", "unparsable", "wrong_language", "placeholders_lost")
Check = Callable[[Reply], "str | None"]


def reasks_of(ctx: StageContext) -> int:
    settings = getattr(ctx.llm, "settings", None)
    return settings.max_reasks if settings is not None else 2


def model_of(reply: Reply | None) -> str:
    return str(((reply.raw if reply else None) or {}).get("model") or "")


def checked(*extra: Callable[[str], "str | None"], refusal_prose: bool = True) -> Check:
    """A reply check: the LLM layer's `problem`, then each `extra(text)` in turn."""
    def check(reply: Reply) -> str | None:
        why = problem(reply, refusal_prose=refusal_prose)
        if why is None:
            for fn in extra:
                why = fn(reply.text.strip())
                if why:
                    break
        return why
    return check


class Talk:
    """The state of one conversation's requests: sample index, re-ask limit, last reply seen."""

    def __init__(self, ask: AsyncAsk, sample: int, reasks: int, params: dict | None = None):
        self.ask, self.sample, self.reasks = ask, sample, reasks
        self.params = dict(params or {})
        self.last: Reply | None = None
        self.model = ""

    async def turn(self, messages: list[dict], check: Check = problem,
                   **params: Any) -> tuple[str | None, str | None]:
        """(text, None) for a usable reply, else (None, why). Keeps the reply in `last`."""
        request = Request.chat(messages, sample=self.sample, **{**self.params, **params})
        reply, why = await ask_with_reasks(self.ask, request, self.reasks, check)
        self.last = reply
        if why is None:
            self.model = self.model or model_of(reply)
            return reply.text.strip(), None
        return None, why

    def raw(self) -> Any:
        r = self.last
        return None if r is None else (r.text or r.refusal or r.error or r.raw)


def other_endpoint(ctx: StageContext, given: "LLMSettings | None"):
    """The `ask` of a second model or endpoint within a stage (a user simulator, a translator): its
    keys on top of the stage's `llm:` settings, sharing the stage's cache and counters; None to use
    the stage's own (also in a dry run, which renders with the stage's own)."""
    if given is None or not hasattr(ctx.llm, "sibling"):
        return None
    from pipeline.llm.settings import LLMSettings

    settings = LLMSettings(**{**ctx.llm.settings.model_dump(), **given.model_dump(exclude_unset=True)})
    return ctx.llm.sibling(settings).ask_async


def seed_tasks(ctx: StageContext, inputs: list[StageInput], samples: int,
               make: Callable[..., Any]) -> Iterator[Callable[[AsyncAsk], Any]]:
    """One task per (input record, sample): `make(record, sample, ask)`; extra samples are counted."""
    for inp in inputs:
        for rec in inp:
            ctx.count("generated", samples - 1)
            for sample in range(samples):
                yield partial(make, rec, sample)


def finish(seed: Record, messages: list[dict], meta: dict, *, end: str, raw: Any = None,
           min_rounds: int = 1) -> Record | Rejected:
    """The record of a finished conversation, or its seed rejected.

    `end` is why the conversation stopped. A failed request (`llm_error`) always rejects; so does
    a conversation with fewer than `min_rounds` complete rounds (reason: the last bad reply's
    problem, or `too_few_turns`).
    """
    rounds = sum(1 for m in messages if m["role"] == "assistant")
    meta = dict(meta, turns=rounds, termination_reason=end)
    if end == "llm_error" or rounds < min_rounds:
        reason = end if end in PROBLEMS else "too_few_turns"
        return Rejected(reason, f"{rounds} complete round(s) (need {min_rounds}); ended by {end}",
                        record=seed, raw=raw if raw is not None else messages,
                        extra={"termination_reason": end})
    return seed.derive(messages, **meta)


def run_all(ctx: StageContext, tasks: Iterable[Callable[[AsyncAsk], Any]]) -> Iterator:
    """Run conversation tasks; each returns one item or a list of items, yielded in task order."""
    for out in run_in_order(ctx, tasks):
        if isinstance(out, list):
            yield from out
        else:
            yield out
