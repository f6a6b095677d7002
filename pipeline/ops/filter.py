"""`filter`: heuristic rules, each switchable; a record failing one is rejected with its reason.

Rules run in a fixed order and the first failure names the reason (see `pipeline/filters/rules.py`
for each rule and `patterns.py` for the phrase lists). Response rules look at the assistant
turns, instruction rules at the user turns; open records (no answer yet) pass the response
rules unless `require_complete` is set. Then `urls: redact` and `pii: redact` replace URLs
and personal data with tags; a redacted record gets a new id (`meta.parents` names the old
one) and `meta.redacted` counts per kind. A redaction that fails rejects the record
(`pii_redaction_failed`): fail closed.
"""

from __future__ import annotations

import re
from typing import Iterator, Literal

from pydantic import Field, field_validator

from pipeline.filters import pii as piimod
from pipeline.filters.rules import RULES, count_words
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.record import Record, Rejected

__all__ = ["FilterParams", "SPEC", "check", "count_words", "redact_record"]


class FilterParams(Params):
    require_complete: bool = Field(False, description="reject open records (no assistant answer)")
    empty_output: bool = Field(True, description="reject empty or whitespace-only answers")
    empty_instruction: bool = Field(True, description="reject empty or whitespace-only user turns")
    instruction_equals_output: bool = Field(True, description="reject answers that repeat their instruction")
    min_words: int | None = Field(None, ge=0, description="fewest words in the response")
    max_words: int | None = Field(None, ge=1, description="most words in the response")
    instruction_min_words: int | None = Field(None, ge=0)
    instruction_max_words: int | None = Field(None, ge=1)
    min_tokens: int | None = Field(None, ge=0, description="fewest estimated tokens in the whole record")
    max_tokens: int | None = Field(None, ge=1, description="most estimated tokens in the whole record")
    max_turns: int | None = Field(None, ge=1, description="most user turns")
    placeholders: bool = Field(False, description="reject answers with leftovers like <noinput>, [Your Name]")
    placeholder_patterns: list[str] = Field(default_factory=list, description="extra regexes")
    refusal: bool = Field(False, description="reject answers that refuse the task")
    refusal_patterns: list[str] = Field(default_factory=list, description="extra regexes")
    boilerplate: bool = Field(False, description='reject answers with "as an AI language model" boilerplate')
    boilerplate_patterns: list[str] = Field(default_factory=list, description="extra regexes")
    banned_keywords: list[str] = Field(default_factory=list, description="words that reject a record")
    banned_in: Literal["instruction", "response", "all"] = Field("all", description="turns checked for them")
    repetition_ngram: int = Field(3, ge=1, description="n of the repeated n-gram rule")
    max_ngram_repetition: float | None = Field(None, ge=0, le=1, description="most share of repeated n-grams")
    max_line_repetition: float | None = Field(None, ge=0, le=1, description="most share of repeated lines")
    truncated: bool = Field(False, description="reject answers that look cut off")
    lang: list[str] | None = Field(None, description="accepted meta.lang codes (primary subtag compared)")
    lang_missing: Literal["reject", "keep"] = Field("reject", description="records without meta.lang")
    urls: Literal["keep", "reject", "redact"] = Field("keep", description="URLs in any turn; redact: [URL]")
    pii: Literal["keep", "reject", "redact"] = Field("keep", description="personal data; redact: [EMAIL]...")
    pii_kinds: list[piimod.Kind] = Field(default_factory=lambda: list(piimod.KINDS), description="email, ip, phone")

    @field_validator("lang", mode="before")
    @classmethod
    def _one_lang(cls, v):
        return [v] if isinstance(v, str) else v

    @field_validator("placeholder_patterns", "refusal_patterns", "boilerplate_patterns")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for pat in v:
            try:
                re.compile(pat)
            except re.error as e:
                raise ValueError(f"invalid regex {pat!r}: {e}") from None
        return v


def check(rec: Record, p: FilterParams) -> tuple[str, str] | None:
    """The first rule the record fails, as (reason, detail), or None."""
    for rule in RULES:
        verdict = rule(rec, p)
        if verdict:
            return verdict
    return None


def redact_record(rec: Record, p: FilterParams) -> Record:
    """The record with URLs and/or personal data replaced by tags (itself when nothing matched).

    Raises piimod.RedactionError when a turn cannot be cleaned.
    """
    kinds = tuple(p.pii_kinds) if p.pii == "redact" else ()
    kinds += ("url",) if p.urls == "redact" else ()
    if not kinds:
        return rec
    total: dict[str, int] = {}
    messages = []
    for m in rec.messages:
        text, counts = piimod.redact(m["content"], kinds)
        for k, n in counts.items():
            total[k] = total.get(k, 0) + n
        messages.append({"role": m["role"], "content": text})
    if not total:
        return rec
    copies = {k: piimod.redact(rec.meta[k], kinds)[0] for k in TEXT_COPIES if isinstance(rec.meta.get(k), str)}
    return rec.derive(messages, redacted=total, **copies)


# meta fields that hold a copy of a turn's text (sources and generation ops keep them): redacted too
TEXT_COPIES = ("input", "instruction", "seed_instruction", "topic", "original_task", "specified_task",
               "expanded_from", "request", "related_to")


def run(ctx: StageContext, inputs: list[StageInput], p: FilterParams) -> Iterator[Item]:
    for inp in inputs:
        for rec in inp:
            verdict = check(rec, p)
            if verdict is not None:
                yield Rejected(verdict[0], verdict[1], record=rec)
                continue
            try:
                out = redact_record(rec, p)
            except Exception as e:  # fail closed: anything the redactor cannot handle is dropped
                yield Rejected("pii_redaction_failed", f"{type(e).__name__}: {e}", record=rec)
                continue
            if out is not rec:
                for kind, n in out.meta["redacted"].items():
                    ctx.count(f"redacted_{kind}", n)
                ctx.count("records_redacted")
            yield out


SPEC = OpSpec(
    name="filter", fn=run, params=FilterParams, version=2, min_inputs=1,
    sharding="record",
    doc="Heuristic filters (length, tokens, refusals, placeholders, repetition, language, "
        "truncation, URLs, PII redaction...); rejects with the rule's reason.",
)
