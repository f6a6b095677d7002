"""The text a dedup op compares (which turns), its normalisation, tokens and shingles.

Tokens are words for spaced scripts and single characters for CJK, so `auto` shingles are word
n-grams in English and character n-grams in Chinese/Japanese/Korean, in one pass.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pipeline.record import Record

TextField = Literal["conversation", "instruction", "user", "response"]
Shingle = Literal["auto", "word", "char"]

_WS = re.compile(r"\s+")
CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_AUTO_TOKEN = re.compile(rf"[{CJK_CLASS}]|[^\W{CJK_CLASS}]+")
_WORD_TOKEN = re.compile(r"\w+")


def key_text(rec: Record, field: str) -> str:
    """The part of a record compared: whole conversation, first instruction, user turns, or answers."""
    if field == "instruction":
        return rec.instruction
    if field == "user":
        return "\x1e".join(rec.turns("user"))
    if field == "response":
        return "\x1e".join(rec.turns("assistant"))
    return "\x1e".join(f"{m['role']}\x1f{m['content']}" for m in rec.messages)


def plain_text(rec: Record, field: str, with_system: bool = True) -> str:
    """Like `key_text` but without role markers (what shingling, embedding and ROUGE read)."""
    if field == "conversation":
        return "\n".join(m["content"] for m in rec.messages if with_system or m["role"] != "system")
    return key_text(rec, field).replace("\x1e", "\n")


def normalise(text: str) -> str:
    """Unicode NFKC, case-folded, whitespace collapsed."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def tokens(text: str, mode: Shingle = "auto") -> list[str]:
    """Normalised tokens; punctuation is dropped (it rarely separates duplicates)."""
    if mode == "char":
        return list(normalise(text))
    folded = unicodedata.normalize("NFKC", text).casefold()
    return (_AUTO_TOKEN if mode == "auto" else _WORD_TOKEN).findall(folded)


def shingles(text: str, n: int, mode: Shingle = "auto") -> set[bytes]:
    """The set of n-token shingles as UTF-8 bytes; a text shorter than n is one shingle."""
    toks = tokens(text, mode)
    if not toks:
        return set()
    sep = "" if mode == "char" else " "
    if len(toks) <= n:
        return {sep.join(toks).encode("utf-8")}
    return {sep.join(toks[i:i + n]).encode("utf-8") for i in range(len(toks) - n + 1)}
