"""From a list reply to kept or rejected candidates: reply problems, unusable pieces, the rule
filters, the target and the novelty pool, in that order (shared by the list generators)."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from pipeline.gen.calls import model_of, reply_problem
from pipeline.gen.checks import instruction_problem
from pipeline.gen.novelty import similarity_meta, too_similar
from pipeline.gen.pieces import Piece
from pipeline.llm.replies import raw_text
from pipeline.llm.types import Reply
from pipeline.ops.base import Item
from pipeline.record import Record, Rejected


def list_items(reply: Reply, where: str, parse: Callable[..., list[Piece]],
               judge_pieces: Callable[[list[Piece]], list[Item]]) -> Iterator[Item]:
    """The items of a list reply in order: the good pieces judged together by `judge_pieces`, a
    rejection for each bad piece, or one rejection when the reply holds nothing to parse.

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
    judged = iter(judge_pieces([piece for piece in pieces if piece.ok]))
    for piece in pieces:
        yield next(judged) if piece.ok else Rejected(piece.problem, piece.detail, raw=piece.raw, where=where)


def provenance(reply: Reply, **meta: Any) -> dict:
    """Meta shared by every candidate of a reply, with the answering model when known."""
    model = model_of(reply)
    return {**meta, "model": model} if model else dict(meta)


def judge(cands: list[tuple[Record | Rejected, str]], p: Any, pool: Any, room: int, banned: tuple[str, ...],
          echoes: set[str] = frozenset(), **rules: Any) -> list[Item]:
    """Keep or reject each candidate (a record and its instruction text; a rejection passes as
    it is), in order: a repeat of a prompt example (lower-cased text in `echoes`), the rules
    (`rules` go to `instruction_problem`), novelty (no `pool`: none), then the target (`room`
    more records may be kept; the rest are `target_reached`).

    The texts that pass the rules are checked in one `check_many` call, which equals checking
    them one at a time, each kept text joining the pool before the next is checked.
    """
    out: list[Item] = []
    todo: list[int] = []
    for rec, text in cands:
        if isinstance(rec, Rejected):
            out.append(rec)
            continue
        problem = ("echoed_example", "repeats a task of the prompt") if text.lower() in echoes else \
            instruction_problem(text, banned, p.min_words, p.max_words, **rules)
        out.append(Rejected(problem[0], problem[1], record=rec) if problem else rec)
        if not problem:
            todo.append(len(out) - 1)
    checked = pool is not None and room > 0
    verdicts = pool.check_many([cands[i][1] for i in todo]) if checked else [None] * len(todo)
    for i, verdict in zip(todo, verdicts):
        rec = out[i]
        if room <= 0:
            out[i] = Rejected("target_reached", f"{p.target} already kept", record=rec)
        elif verdict is not None and not verdict.keep:
            out[i] = too_similar(verdict, p.threshold, rec)
        else:
            if verdict is not None:
                rec.meta.update(similarity_meta(verdict))
            room -= 1
    return out
