"""FastChat's ShareGPT clean-ups (`clean_sharegpt.py`) and long-conversation splitting
(`split_long_conversation.py`), with a tokenizer-free token estimate.

Token estimate: one token per CJK character plus one per 4 other characters (rounded up),
close to BPE counts for English and Chinese; each message adds 6, as FastChat counts.
"""

from __future__ import annotations

import math
import re

from pipeline.errors import ConfigError

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
DIV = re.compile(r"<div.*?>")
SPAN = re.compile(r"<span.*?>")
CODE_LANG = re.compile(r"```\s*(.*?)(?:Copy code)+(.+?)\s*?```", re.DOTALL)
REGENERATE = re.compile(r"\d+ / \d+")
COPY_CHARS = re.compile(r"Copy\d+ chars / \d+ words")
COPY_CODE = re.compile(r"```(.*?)Copy code\s*```")
BLOCKLIST = ("openai", "chatgpt")
MESSAGE_OVERHEAD = 6


def approx_tokens(text: str) -> int:
    cjk = len(CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def html_to_markdown(value: str) -> str:
    """HTML to markdown with `markdownify` (optional extra `sharegpt`)."""
    try:
        import markdownify
    except ImportError:
        raise ConfigError("sharegpt clean_html needs the 'markdownify' package: "
                          "pip install 'instructpipe[sharegpt]'") from None
    value = SPAN.sub("", DIV.sub("", value))
    return markdownify.markdownify(value).strip()


def fastchat_clean(value: str) -> str:
    """Fix `...Copy code` fences, drop a leading `N / N` regenerate counter, `CopyN chars / N
    words` and empty copy-code blocks, and collapse triple newlines, as FastChat does."""
    value = CODE_LANG.sub(lambda m: f"```{m.group(1)}\n{m.group(2)}\n```", value)
    noise = REGENERATE.match(value)
    if noise:
        value = value[noise.end():]
    value = COPY_CODE.sub("", COPY_CHARS.sub("", value))
    return value.replace("\n\n\n", "\n").strip()


def mentions_blocklisted(value: str) -> str | None:
    low = value.lower()
    return next((w for w in BLOCKLIST if w in low), None)


def split_pairs(turns: list[dict], budget: int, system_tokens: int = 0) -> list[tuple[int, int]]:
    """`(start, end)` message ranges of whole user/assistant pairs, each within `budget` tokens
    (a lone pair above it still forms its own range; the caller rejects it as too long)."""
    lengths = [approx_tokens(t["content"]) + MESSAGE_OVERHEAD for t in turns]
    pieces: list[tuple[int, int]] = []
    start, used = 0, system_tokens
    for i in range(0, len(turns) - 1, 2):
        pair = lengths[i] + lengths[i + 1]
        if i > start and used + pair > budget:
            pieces.append((start, i))
            start, used = i, system_tokens
        used += pair
    if start < len(turns):
        pieces.append((start, len(turns)))
    return pieces


def piece_tokens(turns: list[dict]) -> int:
    return sum(approx_tokens(t["content"]) + MESSAGE_OVERHEAD for t in turns)
