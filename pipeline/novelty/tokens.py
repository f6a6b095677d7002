"""Tokenizers for ROUGE-L novelty: rouge_score's default tokens, and a script-aware variant.

`rouge` reproduces rouge_score 0.1.2's `DefaultTokenizer` without stemming exactly:
`str.lower()`, then the maximal runs of `[a-z0-9]` are the tokens (the same as its replace
`[^a-z0-9]+` by a space, split, keep `^[a-z0-9]+$`). Text in other scripts gives no tokens,
so a filter using it never rejects Chinese, Russian or Arabic text.

`script` tokenizes any script: NFKC-normalised, lower-cased; every character of a script
written without spaces between words (Han, kana, Hangul, Thai, Lao, Khmer, Myanmar,
Tibetan) is a token of its own; other letters, digits and their combining marks form
word tokens, split by everything else (spaces, punctuation, symbols). On plain ASCII text
it gives the same tokens as `rouge`.

`auto` (the default) uses `rouge` for a text unless it is written mainly in a non-Latin
script (more non-Latin letters than ASCII letters and digits), and `script` for that text.
Latin-script text, accented or not, is therefore scored exactly as rouge_score scores it.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache
from typing import Callable, Literal

TokenizerName = Literal["auto", "rouge", "script"]
TOKENIZERS = ("auto", "rouge", "script")

_ROUGE = re.compile(r"[a-z0-9]+")
# Scripts written without spaces between words: each character is a token.
_CHAR_SCRIPTS = ("\u0e00-\u0eff"            # Thai, Lao
                 "\u0f00-\u0fff"            # Tibetan
                 "\u1000-\u109f"            # Myanmar
                 "\u1100-\u11ff"            # Hangul Jamo
                 "\u1780-\u17ff"            # Khmer
                 "\u2e80-\u2fdf"            # CJK radicals
                 "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u303b\u303c"  # CJK marks, numerals
                 "\u3040-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana
                 "\u3130-\u318f"            # Hangul compatibility Jamo
                 "\u3400-\u4dbf\u4e00-\u9fff"  # CJK ideographs
                 "\ua960-\ua97f\uac00-\ud7ff"  # Hangul syllables and Jamo
                 "\uf900-\ufaff"            # CJK compatibility ideographs
                 "\U00020000-\U0003134f")   # CJK extensions B-H
# Letters outside ASCII and the Latin blocks: what makes a text "non-Latin" for `auto`.
_FOREIGN = re.compile(r"[^\W\d_\x00-\u024f\u1e00-\u1eff]")


@lru_cache(maxsize=1)
def _script_pattern() -> re.Pattern:
    """Built on first use: the class of combining marks takes ~0.1 s to collect."""
    cat = unicodedata.category
    marks = "".join(chr(c) for c in range(sys.maxunicode + 1) if cat(chr(c)).startswith("M"))
    word = rf"(?:[^\W_{_CHAR_SCRIPTS}]|[{re.escape(marks)}])"
    return re.compile(rf"[{_CHAR_SCRIPTS}]|{word}+")


def rouge_tokens(text: str) -> list[str]:
    """rouge_score's default tokens (no stemming)."""
    return _ROUGE.findall(text.lower())


def script_tokens(text: str) -> list[str]:
    """Script-aware tokens: one per character in spaceless scripts, words elsewhere."""
    return _script_pattern().findall(unicodedata.normalize("NFKC", text).lower())


def auto_tokens(text: str) -> list[str]:
    """`rouge` tokens for Latin-script text, `script` tokens for mainly non-Latin text."""
    tokens = rouge_tokens(text)
    foreign = len(_FOREIGN.findall(text))
    if foreign and foreign > sum(map(len, tokens)):
        return script_tokens(text)
    return tokens


_BY_NAME: dict[str, Callable[[str], list[str]]] = {
    "auto": auto_tokens, "rouge": rouge_tokens, "script": script_tokens}


def get_tokenizer(name: str | Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """A tokenizer by name (`auto`, `rouge`, `script`), or a callable passed through."""
    if callable(name):
        return name
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown tokenizer {name!r} (expected one of {', '.join(TOKENIZERS)})") from None


def tokenize(text: str, tokenizer: str = "auto") -> list[str]:
    """Tokens of `text` as the novelty filter compares them."""
    return get_tokenizer(tokenizer)(text)
