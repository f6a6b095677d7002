"""The filter rules: each takes (record, params) and returns (reason, detail) or None.

Word counts use whitespace-separated words, each CJK character counting as one word.
Token counts are an estimate without a tokenizer: one token per CJK character plus one per
four other characters (spaces included), which is close to GPT/LLaMA BPE tokenizers on
English prose; set bounds with some margin.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from pipeline.dedup.text import CJK_CLASS, normalise, tokens
from pipeline.filters import patterns, pii
from pipeline.record import Record
from pipeline.tokens import active as tokenizer, count as tokens_of

_CJK = re.compile(f"[{CJK_CLASS}]")


def count_words(text: str) -> int:
    cjk = len(_CJK.findall(text))
    return len(_CJK.sub(" ", text).split()) + cjk


def estimate_tokens(text: str) -> int:
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


@lru_cache(maxsize=64)
def compiled(builtin: str, extra: tuple[str, ...]) -> re.Pattern:
    return patterns.compile_all(getattr(patterns, builtin) + list(extra))


@lru_cache(maxsize=64)
def keyword_pattern(words: tuple[str, ...]) -> re.Pattern:
    """Whole-word match for words of letters and digits; plain substring otherwise (CJK)."""
    parts = [rf"\b{re.escape(w)}\b" if re.fullmatch(r"\w+", w, re.ASCII) else re.escape(w) for w in words]
    return re.compile("|".join(parts), re.I)


def _bounds(reason: str, n: int, low, high, unit: str = "words"):
    if low is not None and n < low:
        return f"{reason}_too_short", f"{n} {unit} < {low}"
    if high is not None and n > high:
        return f"{reason}_too_long", f"{n} {unit} > {high}"


def _search(rx: re.Pattern, texts: list[str]) -> str | None:
    for t in texts:
        m = rx.search(t)
        if m:
            return m.group()
    return None


def complete(rec: Record, p):
    if p.require_complete and not rec.complete:
        return "incomplete", "no assistant answer"


def empty_output(rec: Record, p):
    if p.empty_output and any(not t.strip() for t in rec.turns("assistant")):
        return "empty_output", "an assistant turn is empty"


def empty_instruction(rec: Record, p):
    if p.empty_instruction and any(not t.strip() for t in rec.turns("user")):
        return "empty_instruction", "a user turn is empty"


def instruction_equals_output(rec: Record, p):
    if not p.instruction_equals_output:
        return None
    msgs = [m for m in rec.messages if m["role"] != "system"]
    for q, a in zip(msgs[::2], msgs[1::2]):
        if normalise(q["content"]) == normalise(a["content"]):
            return "instruction_equals_output", "an answer repeats its instruction"


def response_length(rec: Record, p):
    if (p.min_words is None and p.max_words is None) or not rec.complete:
        return None
    words = sum(count_words(t) for t in rec.turns("assistant"))
    return _bounds("response", words, p.min_words, p.max_words)


def instruction_length(rec: Record, p):
    if p.instruction_min_words is None and p.instruction_max_words is None:
        return None
    words = sum(count_words(t) for t in rec.turns("user"))
    return _bounds("instruction", words, p.instruction_min_words, p.instruction_max_words)


def token_length(rec: Record, p):
    if p.min_tokens is None and p.max_tokens is None:
        return None
    n = sum(tokens_of(m["content"], estimate_tokens) for m in rec.messages)
    return _bounds("tokens", n, p.min_tokens, p.max_tokens, "tokens" if tokenizer() else "estimated tokens")


def turns(rec: Record, p):
    if p.max_turns is not None and len(rec.turns("user")) > p.max_turns:
        return "too_many_turns", f"{len(rec.turns('user'))} user turns > {p.max_turns}"


def phrase_rule(flag: str, builtin: str, reason: str, what: str):
    """A rule rejecting answers that match a phrase list (built-in plus `<flag>_patterns`)."""
    def rule(rec: Record, p):
        if getattr(p, flag):
            extra = tuple(getattr(p, f"{flag.rstrip('s')}_patterns"))
            hit = _search(compiled(builtin, extra), rec.turns("assistant"))
            if hit:
                return reason, f"{what}: {hit!r}"
    rule.__name__ = flag
    return rule


placeholders = phrase_rule("placeholders", "PLACEHOLDER", "placeholder", "answer holds a leftover placeholder")
refusal = phrase_rule("refusal", "REFUSAL", "refusal", "answer refuses")
boilerplate = phrase_rule("boilerplate", "BOILERPLATE", "boilerplate", "answer has AI boilerplate")


def banned(rec: Record, p):
    if not p.banned_keywords:
        return None
    where = {"instruction": rec.turns("user"), "response": rec.turns("assistant")}.get(
        p.banned_in, [m["content"] for m in rec.messages])
    hit = _search(keyword_pattern(tuple(p.banned_keywords)), where)
    if hit:
        return "banned_keyword", f"{p.banned_in} contains {hit!r}"


def repeated_share(items: list) -> float:
    return 1 - len(set(items)) / len(items) if items else 0.0


def repetition(rec: Record, p):
    if p.max_ngram_repetition is None and p.max_line_repetition is None:
        return None
    for text in rec.turns("assistant"):
        if p.max_ngram_repetition is not None:
            toks, n = tokens(text), p.repetition_ngram
            share = repeated_share([tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)])
            if share > p.max_ngram_repetition:
                return "repeated_ngrams", f"{share:.0%} of {n}-grams repeat > {p.max_ngram_repetition:.0%}"
        if p.max_line_repetition is not None:
            lines = [normalise(x) for x in text.splitlines() if tokens(x)]
            share = repeated_share(lines)
            if share > p.max_line_repetition:
                return "repeated_lines", f"{share:.0%} of lines repeat > {p.max_line_repetition:.0%}"


def primary_lang(code: object) -> str:
    return str(code).strip().lower().replace("_", "-").split("-")[0]


def language(rec: Record, p):
    if not p.lang:
        return None
    got = rec.meta.get("lang")
    if not got:
        if p.lang_missing == "keep":
            return None
        return "lang_unknown", "meta.lang is missing: run a langid stage first, or set lang_missing: keep"
    if primary_lang(got) not in {primary_lang(x) for x in p.lang}:
        return "wrong_lang", f"meta.lang {got!r} not in {p.lang}"


def truncation(text: str, meta: dict) -> str | None:
    """Why an answer looks cut off, or None."""
    if meta.get("finish_reason") == "length" or meta.get("truncated") is True:
        return "generation stopped at the length limit"
    if text.count("```") % 2:
        return "unclosed code block"
    last_line = text.rstrip().rsplit("\n", 1)[-1].strip()
    words = tokens(last_line)
    # only a prose line can be judged: code and form fields legitimately end on ',' or ':'
    if len(words) < 4 or patterns.CODE_CHARS & set(last_line):
        return None
    if last_line.endswith(patterns.TRAILING):
        return f"ends with {last_line[-1]!r}"
    if last_line[-1].isalnum() and last_line.rsplit(None, 1)[-1] in patterns.DANGLING:
        return f"ends with the word {words[-1]!r}"
    return None


def truncated(rec: Record, p):
    if p.truncated and rec.complete:
        why = truncation(rec.response, rec.meta)
        if why:
            return "truncated", why


def urls(rec: Record, p):
    if p.urls == "reject":
        hit = _search(pii.URL, [m["content"] for m in rec.messages])
        if hit:
            return "url", f"contains the URL {hit!r}"


def personal_data(rec: Record, p):
    if p.pii == "reject":
        for m in rec.messages:
            found = pii.find(m["content"], tuple(p.pii_kinds))
            if found:
                return "pii", f"{m['role']} turn holds {found[0][0]} {found[0][1]!r}"


RULES = [complete, empty_instruction, empty_output, instruction_equals_output, instruction_length,
         response_length, token_length, turns, placeholders, refusal, boilerplate, banned, repetition,
         truncated, language, urls, personal_data]
