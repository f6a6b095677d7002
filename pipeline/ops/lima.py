"""`lima`: LIMA's curation of community Q&A (Stack Exchange, wikiHow) into a small, even sample.

Reads complete single-answer records whose `meta` carries the answer's vote score and its site or
category. Drops answers scoring under `min_score` (`below_score`; `no_score` when absent), outside
`min_chars`-`max_chars` after clean-up (`too_short`, `too_long`), written in the first person
(`first_person`) or pointing at other answers (`refers_to_other_answer`). Survivors get links,
images and HTML stripped (code blocks and lists kept) and, with `wikihow`, "This article" rewritten.
Then `sample` records are drawn across groups with temperature `tau` (best-scored first in each
group); the rest are `not_sampled`. The final pick is a person's: see `instructpipe review`.
"""

from __future__ import annotations

import random
from typing import Iterator

from pydantic import Field

from pipeline.filters import lima as rules
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.record import Record, Rejected


class LimaParams(Params):
    min_score: float | None = Field(10, description="fewest votes of the answer (LIMA: 10); none: no rule")
    score_field: str = Field("score", min_length=1, description="meta key holding the answer's votes")
    min_chars: int = Field(1200, ge=0, description="shortest answer in characters, after clean-up")
    max_chars: int = Field(4096, ge=1, description="longest answer in characters, after clean-up")
    first_person: bool = Field(True, description="reject answers written in the first person")
    other_answers: bool = Field(True, description="reject answers that refer to other answers")
    strip_links: bool = Field(True, description="remove links, images and HTML (code and lists stay)")
    wikihow: bool = Field(False, description='rewrite "This article" as "The following answer"')
    group_field: str = Field("site", min_length=1, description="meta key of the site or category sampled over")
    sample: int | None = Field(None, ge=1, description="records to draw (LIMA: 200 per set); none: all")
    tau: float = Field(3.0, gt=0, description="sampling temperature over groups (1: natural, larger: flatter)")
    title_or_body: bool = Field(False, description="prompt is meta.title or the question body, at random")
    seed: int = 0


def cleaned(rec: Record, p: LimaParams, rng: random.Random) -> Record:
    """The record with its answer cleaned and, when asked, the title chosen as its prompt."""
    messages = [dict(m) for m in rec.messages]
    answer = messages[-1]["content"]
    if p.strip_links:
        answer = rules.strip_links(answer)
    if p.wikihow:
        answer = rules.wikihow_rewrite(answer)
    messages[-1]["content"] = answer
    title = rec.meta.get("title")
    used_title = p.title_or_body and isinstance(title, str) and bool(title.strip()) and rng.random() < 0.5
    if used_title:
        messages[-2]["content"] = title.strip()
    if messages == rec.messages:
        return rec
    return rec.derive(messages, **({"prompt_from": "title"} if used_title else {}))


def verdict(rec: Record, p: LimaParams) -> Rejected | None:
    """Why LIMA would not keep this answer (checked on the cleaned answer), or None."""
    if not rec.complete:
        return Rejected("incomplete", "no answer", record=rec)
    if p.min_score is not None:
        votes = rec.meta.get(p.score_field)
        if not isinstance(votes, (int, float)) or isinstance(votes, bool):
            return Rejected("no_score", f"meta.{p.score_field} missing", record=rec)
        if votes < p.min_score:
            return Rejected("below_score", f"{votes:g} < {p.min_score:g}", record=rec)
    n = len(rec.response)
    if n < p.min_chars:
        return Rejected("too_short", f"{n} < {p.min_chars} characters", record=rec)
    if n > p.max_chars:
        return Rejected("too_long", f"{n} > {p.max_chars} characters", record=rec)
    word = rules.first_person(rec.response) if p.first_person else None
    if word:
        return Rejected("first_person", f"first person: {word!r}", record=rec)
    ref = rules.refers_to_other_answer(rec.response) if p.other_answers else None
    if ref:
        return Rejected("refers_to_other_answer", repr(ref), record=rec)
    return None


def tempered_sample(groups: dict[str, list[int]], scores: list[float], k: int,
                    tau: float, rng: random.Random) -> list[int]:
    """Draw a group with probability ~ size^(1/tau), take its best remaining record; k times."""
    queues = {g: sorted(ix, key=lambda i: (-scores[i], i)) for g, ix in groups.items()}
    shares = rules.tempered_shares({g: len(q) for g, q in queues.items()}, tau)
    picked: list[int] = []
    while len(picked) < k and shares:
        names = sorted(shares)
        g = rng.choices(names, weights=[shares[n] for n in names])[0]
        picked.append(queues[g].pop(0))
        if not queues[g]:
            del shares[g]   # an exhausted group leaves the draw; the others keep their shares
    return picked


def run(ctx: StageContext, inputs: list[StageInput], p: LimaParams) -> Iterator[Item]:
    rng = ctx.rng(p.seed)
    kept: list[Record] = []
    for inp in inputs:
        for rec in inp:
            rec = cleaned(rec, p, rng) if rec.complete else rec
            why = verdict(rec, p)
            if why is not None:
                yield why
            else:
                kept.append(rec)
    chosen = set(range(len(kept)))
    if p.sample is not None and p.sample < len(kept):
        groups: dict[str, list[int]] = {}
        for i, rec in enumerate(kept):
            groups.setdefault(str(rec.meta.get(p.group_field, "")), []).append(i)
        scores = [float(r.meta.get(p.score_field) or 0) for r in kept]
        chosen = set(tempered_sample(groups, scores, p.sample, p.tau, rng))
    for i, rec in enumerate(kept):
        if i in chosen:
            ctx.count(f"sampled_{rec.meta.get(p.group_field, 'none')}")
            yield rec
        else:
            yield Rejected("not_sampled", f"{p.sample} drawn at tau {p.tau:g}", record=rec)


SPEC = OpSpec(
    name="lima", fn=run, params=LimaParams, version=1, min_inputs=1,
    doc="LIMA's community-Q&A curation: votes >= 10, answers of 1,200-4,096 characters, no first person "
        "or references to other answers, links stripped, temperature-tau sampling across sites.",
)
