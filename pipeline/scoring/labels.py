"""One-word LLM labels of complete records (IFS's answer/continuation, Phi-1's educational value)."""

from __future__ import annotations

import re
from typing import Callable, Iterator

from pipeline.llm.types import AsyncAsk
from pipeline.ops.base import StageContext, StageInput
from pipeline.record import Record, Rejected
from pipeline.scoring.ask import Outcome, ask_parsed, in_order, reask_limit, rejection
from pipeline.scoring.parse import Failure

_WORD = re.compile(r"^(?:label\s*[:=]\s*)?([a-z\-_]+)$", re.I)


def parse_word(text: str | None, labels: tuple[str, ...], aliases: dict[str, str] | None = None):
    """`(label, reason)` from a reply whose first line is one of `labels`; the rest is the reason."""
    if text is None or not text.strip():
        return Failure("empty", "the reply was empty")
    lines = text.strip().splitlines()
    m = _WORD.match(lines[0].strip().strip("*_`\"' .:"))
    label = m.group(1).lower() if m else ""
    label = (aliases or {}).get(label, label)
    if label not in labels:
        return Failure("unparsable", f"the first line is not the single word {' or '.join(labels)}")
    return label, "\n".join(lines[1:]).strip()


def label_records(ctx: StageContext, inputs: list[StageInput], messages: Callable[[Record], list[dict]],
                  parse: Callable, reask_prompt: str, prefix: str, reasks: int | None
                  ) -> Iterator[tuple[Record, Rejected | None, str, str]]:
    """(record, rejection or None, label, reason) per input record, in input order: open records
    are `incomplete`, failed LLM answers fail closed (`<prefix>_<code>`, `llm_error`)."""
    limit = reask_limit(ctx, reasks)

    def workflows():
        for inp in inputs:
            for rec in inp:
                async def one(ask: AsyncAsk, rec: Record = rec):
                    if not rec.complete:
                        return rec, None
                    return rec, await ask_parsed(ask, messages(rec), lambda r: parse(r.text), reask_prompt,
                                                 limit, temperature=0.0, max_tokens=64)
                yield one

    for rec, out in in_order(ctx, workflows()):
        if out is None:
            yield rec, Rejected("incomplete", "no response to label", record=rec), "", ""
        elif not isinstance(out, Outcome) or not out.ok:
            yield rec, rejection(rec, out, prefix), "", ""
        else:
            ctx.count("reasked", max(len(out.raw) - 1, 0))
            yield rec, None, out.value[0], out.value[1]
