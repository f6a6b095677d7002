"""From a list reply to kept or rejected candidates: reply problems, unusable pieces, the rule
filters, the target and the novelty pool, in that order (shared by the list generators)."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from pipeline.gen.calls import model_of, reply_problem
from pipeline.llm.replies import raw_text
from pipeline.gen.checks import instruction_problem
from pipeline.gen.novelty import similarity_meta, too_similar
from pipeline.gen.pieces import Piece
from pipeline.llm.types import Reply
from pipeline.ops.base import Item
from pipeline.record import Record, Rejected


def list_items(reply: Reply, where: str, parse: Callable[..., list[Piece]],
               make: Callable[[Piece], Item]) -> Iterator[Item]:
    """The items of a list reply: `make(piece)` for each good piece, a rejection for each bad one,
    or one rejection when the reply holds nothing to parse.

    `parse(text, truncated=...)` splits the text; a reply cut off by the length limit is parsed
    with its last item dropped.
    """
    problem = reply_problem(reply, allow_truncated=True)
    if problem:
        yield Rejected(problem[0], problem[1], raw=raw_text(reply), where=where)
        return
    pieces = parse(reply.text, truncated=not reply.complete)
    if not pieces:
        yield Rejected("no_items", "no item could be parsed", raw=raw_text(reply), where=where)
    for piece in pieces:
        yield make(piece) if piece.ok else Rejected(piece.problem, piece.detail, raw=piece.raw, where=where)


def provenance(reply: Reply, **meta: Any) -> dict:
    """Meta shared by every candidate of a reply, with the answering model when known."""
    model = model_of(reply)
    return {**meta, "model": model} if model else dict(meta)


def judge(rec: Record, text: str, p: Any, pool: Any, room: int, banned: tuple[str, ...],
          echoes: set[str] = frozenset(), **rules: Any) -> Record | Rejected:
    """Keep `rec` (whose instruction is `text`) or reject it: a repeat of a prompt example (lower-
    cased text in `echoes`), the rules (`rules` go to `instruction_problem`), then the target,
    then novelty (no `pool`: no novelty filter).

    A kept text joins `pool` at once, so the next candidate is checked against it too.
    """
    if text.lower() in echoes:
        return Rejected("echoed_example", "repeats a task of the prompt", record=rec)
    problem = instruction_problem(text, banned, p.min_words, p.max_words, **rules)
    if problem:
        return Rejected(problem[0], problem[1], record=rec)
    if room <= 0:
        return Rejected("target_reached", f"{p.target} instructions already kept", record=rec)
    if pool is None:
        return rec
    verdict = pool.check_and_add(text)
    if not verdict.keep:
        return too_similar(verdict, p.threshold, rec)
    rec.meta.update(similarity_meta(verdict))
    return rec
