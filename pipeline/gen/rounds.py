"""The round loop of Self-Instruct-style generators: send a round of requests, handle the replies
in request order, stop at the target or when rounds stop paying off.

Requests of a round are a pure function of the round number, the seeded rng and what earlier
rounds kept, and replies are handled in request order, so a resumed run asks the same
questions (answered from the cache) and reaches the same state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from pipeline.gen.calls import ask_all
from pipeline.llm.types import Reply, Request
from pipeline.ops.base import Item, StageContext
from pipeline.progress import say
from pipeline.record import Record


@dataclass
class RoundState:
    """Where the loop is: `room` is how many more records may still be kept."""

    round: int = 0
    requests: int = 0
    kept: int = 0
    room: int = 0


def round_size(state: RoundState, per_round: int, per_request: int) -> int:
    """Requests for this round: `per_round`, fewer near the target (a request yields at most
    `per_request` records, so no more are sent than could still be kept)."""
    return max(1, min(per_round, -(-state.room // max(1, per_request))))


Build = Callable[[RoundState], list[Request]]
Handle = Callable[[Reply, int, RoundState], Iterator[Item]]


def run_rounds(ctx: StageContext, *, target: int, build: Build, handle: Handle,
               max_rounds: int | None, patience: int) -> Iterator[Item]:
    """Yield every item `handle` makes, round after round, until `target` records are kept.

    `build(state)` gives the round's requests (sample indices and tags are set here: the
    sample index is the request's number in the whole run, so equal prompts in two rounds are
    two samples). `handle(reply, request_no, state)` yields kept records and rejections; each
    yielded item is counted as `generated`. The loop stops after `patience` rounds in a row that
    keep nothing (counter `stopped_stalled`) or after `max_rounds`.
    """
    state = RoundState(room=target)
    stalls = 0
    while state.kept < target and (max_rounds is None or state.round < max_rounds):
        first = state.requests
        requests = [Request(r.messages, r.prompt, r.params, first + i, i) for i, r in enumerate(build(state))]
        if not requests:
            break
        state.requests += len(requests)
        before = state.kept
        for i, reply in enumerate(ask_all(ctx, requests)):
            for item in handle(reply, first + i, state):
                ctx.count("generated")
                if isinstance(item, Record):
                    state.kept += 1
                    state.room = target - state.kept
                yield item
        ctx.count("rounds")
        state.round += 1
        stalls = stalls + 1 if state.kept == before else 0
        if stalls >= patience and state.kept < target:
            ctx.count("stopped_stalled")
            break


def hold_kept(items: Iterator[Item], kept: list[Record]) -> Iterator[Item]:
    """Pass rejections on; hold kept records back in `kept` (for a second phase of calls)."""
    for item in items:
        if isinstance(item, Record):
            kept.append(item)
        else:
            yield item


def summarize(ctx: StageContext, *extra: str) -> None:
    """One line of run output: generated, kept (records out), the `extra` counters named, and
    the rejections by reason."""
    from pipeline.llm.dryrun import DryRunLLM

    if isinstance(ctx.llm, DryRunLLM):
        return
    c = ctx.counters
    drops = sorted(((k[len("dropped_"):], v) for k, v in c.items() if k.startswith("dropped_") and v),
                   key=lambda kv: (-kv[1], kv[0]))
    parts = [f"{c['generated']} generated", f"{c['records_out']} kept"]
    parts += [f"{c[k]} {k.replace('_', ' ')}" for k in extra]
    rejected = ", ".join(f"{reason} {n}" for reason, n in drops) or "none"
    say(f"[{ctx.stage_id}] {ctx.op}: {'; '.join(parts)}; rejected: {rejected}")
