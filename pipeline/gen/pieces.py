"""What a parser returns: `Piece`s, each a parsed item or a part of the reply that was unusable.

Parsers are pure functions of the reply text. A piece with a `problem` (a reason code such as
`truncated`, `malformed_item` or `commentary`) is rejected by the op with its raw text kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Piece:
    """One item of a reply: its parsed `fields`, its source text, its list number if any."""

    fields: dict = field(default_factory=dict)
    raw: str = ""
    number: int | None = None
    problem: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None

    def fail(self, problem: str, detail: str = "") -> Piece:
        return replace(self, problem=problem, detail=detail)


def mark_truncated(pieces: list[Piece]) -> list[Piece]:
    """A reply cut off by the length limit: only its last item is dropped (earlier ones are whole)."""
    for i in range(len(pieces) - 1, -1, -1):
        if pieces[i].ok:
            return pieces[:i] + [pieces[i].fail("truncated", "the reply hit the length limit")] + pieces[i + 1:]
    return pieces
