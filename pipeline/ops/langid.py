"""`langid`: identify each record's language offline (py3langid) and set `meta.lang`.

Reads any records; writes them with `meta.lang` (ISO 639-1) and `meta.lang_prob`. Rejects as
`wrong_language` a record whose detected language is not in `expect_lang`, or (with
`match_declared`) differs from the `meta.lang` it arrived with, e.g. a translation that came
back in English. Texts too short or too unclear to tell pass, counted as `lang_undetermined`.
"""

from __future__ import annotations

from typing import Iterator, Literal

from pydantic import Field, field_validator

from pipeline.chat.identify import CLASSIC, Guess, identify, known_languages
from pipeline.chat.languages import base
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.record import Record, Rejected

Scope = Literal["conversation", "user", "assistant", "instruction", "response"]


class LangidParams(Params):
    field: Scope = Field("conversation", description="which text to identify")
    languages: list[str] = Field(default_factory=list,
                                 description="candidate languages (default: the 97 of langid.py)")
    expect_lang: list[str] = Field(default_factory=list, description="reject records in other languages")
    match_declared: bool = Field(False, description="reject records whose meta.lang disagrees")
    min_chars: int = Field(2, ge=1, description="fewer letters than this: undetermined")
    min_prob: float = Field(0.5, ge=0, le=1, description="lower confidence than this: undetermined")

    @field_validator("languages", "expect_lang")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [x for x in v if base(x) not in known_languages()] if v else []
        if unknown:
            raise ValueError(f"unknown to py3langid: {unknown} (codes are ISO 639-1, e.g. zh, de)")
        return v


def text_of(rec: Record, scope: Scope) -> str:
    if scope == "instruction":
        return rec.instruction
    if scope == "response":
        return rec.response
    roles = ("user", "assistant") if scope == "conversation" else (scope,)
    return "\n".join(m["content"] for m in rec.messages if m["role"] in roles)


def _guess(text: str, p: LangidParams) -> Guess:
    return identify(text, langs=tuple(p.languages or CLASSIC), min_chars=p.min_chars, min_prob=p.min_prob)


def mismatch(rec: Record, guess: Guess, p: LangidParams, declared: object) -> str | None:
    """Why the record is in the wrong language: the whole text, or (for `conversation`) either
    side alone, is surely in a language other than the declared or an expected one."""
    rules = []
    if p.match_declared and isinstance(declared, str) and declared != "und":
        rules.append(({base(declared)}, f"declared {declared}"))
    if p.expect_lang:
        rules.append(({base(x) for x in p.expect_lang}, f"expected {', '.join(p.expect_lang)}"))
    if not rules:
        return None
    parts = [("text", guess)]
    if p.field == "conversation":
        parts += [(f"{side} turns", _guess(text_of(rec, side), p)) for side in ("user", "assistant")]
    for want, said in rules:
        for name, g in parts:
            if g.sure and g.lang not in want:
                return f"{name}: detected {g.lang} ({g.prob}), {said}"
    return None


def verdict(rec: Record, p: LangidParams) -> tuple[Record, Guess, str | None]:
    """The record with its language set, the guess, and why it is in the wrong language (or None)."""
    guess = _guess(text_of(rec, p.field), p)
    declared = rec.meta.get("lang")
    meta = dict(rec.meta)
    if guess.sure:
        keep = isinstance(declared, str) and base(declared) == guess.lang   # a more specific code stays
        meta["lang"] = declared if keep else guess.lang
        meta["lang_prob"] = guess.prob
    else:
        meta.setdefault("lang", guess.lang)
    out = Record(rec.id, rec.messages, meta)
    return out, guess, mismatch(rec, guess, p, declared)


def run(ctx: StageContext, inputs: list[StageInput], p: LangidParams) -> Iterator[Item]:
    for inp in inputs:
        for rec in inp:
            out, guess, wrong = verdict(rec, p)
            ctx.count(f"lang_{guess.lang}" if guess.sure else "lang_undetermined")
            yield out if wrong is None else Rejected("wrong_language", wrong, record=out)


SPEC = OpSpec(
    name="langid", fn=run, params=LangidParams, version=1, min_inputs=1,
    sharding="record",
    doc="Identify each record's language offline (py3langid); set meta.lang; optionally reject others.",
)
