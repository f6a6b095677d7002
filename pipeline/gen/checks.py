"""Post-processing and rule filters for generated instructions (Self-Instruct and Alpaca rules).

An instruction is cleaned (whitespace collapsed, optionally capitalised) and then checked:
word bounds (more than 3 and at most 150 words), banned keywords as whole words, the
`Write a program` prefix, and a first character that is punctuation or not ASCII.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from typing import Callable, Literal

SELF_INSTRUCT_BANNED = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files",
                        "map", "maps", "draw", "plot", "go to")
ALPACA_BANNED = SELF_INSTRUCT_BANNED + ("video", "audio", "music", "flowchart", "diagram")

Capitalize = Literal["first", "python", "none"]


def clean_instruction(text: str, capitalize: Capitalize = "first", collapse: bool = True) -> str:
    """Strip, collapse whitespace (unless `collapse` is false: multi-line instructions); `first`
    upper-cases the first character only, `python` applies `str.capitalize()` like the
    Self-Instruct code (it lower-cases the rest)."""
    text = re.sub(r"\s+", " ", text).strip() if collapse else text.strip()
    if not text or capitalize == "none":
        return text
    if capitalize == "python":
        return text.capitalize()
    return text[0].upper() + text[1:]


def prompt_line(text: str) -> str:
    """A task as shown in a prompt: whitespace collapsed, trailing ':' removed (reference)."""
    return re.sub(r"\s+", " ", text).strip().rstrip(":")


@lru_cache(maxsize=64)
def _banned_re(words: tuple[str, ...]) -> re.Pattern | None:
    if not words:
        return None
    return re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)


def instruction_problem(text: str, banned: tuple[str, ...] = SELF_INSTRUCT_BANNED,
                        min_words: int = 3, max_words: int = 150, *, start_rules: bool = True,
                        count_words: Callable[[str], int] = lambda t: len(t.split())) -> tuple[str, str] | None:
    """The first rule a cleaned instruction breaks, as (reason, detail), or None.

    `min_words` is exclusive (the reference drops `<= 3` words), `max_words` inclusive.
    `start_rules` are the punctuation and non-ASCII first-character rules (English-only data).
    """
    if not text:
        return "empty", "no text"
    words = count_words(text)
    if words <= min_words:
        return "too_short", f"{words} words <= {min_words}"
    if words > max_words:
        return "too_long", f"{words} words > {max_words}"
    pattern = _banned_re(tuple(banned))
    hit = pattern.search(text) if pattern else None
    if hit:
        return "banned_keyword", f"contains {hit.group(1)!r}"
    if text.lower().startswith("write a program"):
        return "write_a_program", "starts with 'Write a program'"
    if not start_rules:
        return None
    if text[0] in string.punctuation:
        return "starts_with_punctuation", f"starts with {text[0]!r}"
    if not text[0].isascii():
        return "non_ascii_start", f"starts with {text[0]!r}"
    return None
