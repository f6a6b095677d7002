"""ShareGPT / FastChat conversations: `{"id", "conversations": [{"from", "value"}, ...]}`.

Roles are normalised (`human`/`user` -> user; `gpt`/`chatgpt`/`bing`/`bard`/`assistant` ->
assistant; `system`); a message may use `role`/`content` instead. A trailing user turn after
the last answer is dropped (counted). Optional: HTML-to-markdown and FastChat clean-ups, and
splitting at turn-pair boundaries under a token budget (`max_tokens`).
"""

from __future__ import annotations

from typing import Any, Iterator

from pydantic import Field

from pipeline.adapters.base import (AdapterParams, FieldError, Source, bad_line, fan_out, finish,
                                    need_object, put_meta, reject_row, text)
from pipeline.adapters.fastchat_clean import (fastchat_clean, html_to_markdown, mentions_blocklisted,
                                              piece_tokens, split_pairs)
from pipeline.ops.base import Item, StageContext
from pipeline.record import Rejected

NAME = "sharegpt"
DESCRIPTION = "ShareGPT / FastChat conversations (from/value), role normalisation, cleaning, splitting"
ROLE_MAP = {"human": "user", "user": "user", "gpt": "assistant", "chatgpt": "assistant",
            "bing": "assistant", "bard": "assistant", "assistant": "assistant", "system": "system"}


class Params(AdapterParams):
    field: str = Field("conversations", description="column holding the turns")
    clean_html: bool = Field(False, description="convert HTML to markdown (needs markdownify)")
    fastchat_clean: bool = Field(False, description="FastChat clean-ups: code fences, regenerate "
                                 "counters, 'Copy code' noise, conversations with <= 1 message")
    drop_openai_mentions: bool = Field(False, description="reject conversations mentioning openai/chatgpt")
    max_tokens: int | None = Field(None, ge=16, description="split longer conversations (FastChat: 2048)")


def read(src: Source, params: Params, ctx: StageContext) -> Iterator[Item]:
    for where, row in src.rows():
        bad = bad_line(where, row)
        yield from [bad] if bad else fan_out(ctx, convert(row, where, params, src, ctx))


def turns_of(row: Any, p: Params) -> list[dict]:
    """Normalised `{role, content}` turns; unknown roles and bad values raise FieldError."""
    need_object(row)
    raw = row.get(p.field)
    if not isinstance(raw, list):
        raise FieldError(p.field, "missing" if raw is None else f"expected a list, got {type(raw).__name__}")
    turns = []
    system = text(row, "system")
    if system.strip():
        turns.append({"role": "system", "content": system})
    for i, msg in enumerate(raw):
        path = f"{p.field}[{i}]"
        if not isinstance(msg, dict):
            raise FieldError(path, f"expected an object, got {type(msg).__name__}")
        key_role, key_text = ("from", "value") if "from" in msg or "value" in msg else ("role", "content")
        speaker = msg.get(key_role)
        if not isinstance(speaker, str):
            raise FieldError(f"{path}.{key_role}", "missing" if speaker is None else "expected text")
        value = msg.get(key_text)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise FieldError(f"{path}.{key_text}", "missing" if value is None else
                             f"expected text, got {type(value).__name__}")
        turns.append({"role": ROLE_MAP.get(speaker.strip().lower(), speaker), "content": str(value)})
    return turns


def convert(row: Any, where: str, p: Params, src: Source, ctx: StageContext) -> list[Item]:
    try:
        turns = turns_of(row, p)
    except FieldError as err:
        return [reject_row(where, row, err)]
    for i, t in enumerate(turns, start=1):
        if t["role"] not in ("system", "user", "assistant"):
            return [Rejected(f"unknown_role@turn{i}", f"unknown speaker {t['role']!r}", raw=row, where=where)]
    for t in turns:
        if p.clean_html:
            t["content"] = html_to_markdown(t["content"])
        if p.fastchat_clean:
            t["content"] = fastchat_clean(t["content"])
    blocked = next(filter(None, (mentions_blocklisted(t["content"]) for t in turns)), None) \
        if p.drop_openai_mentions else None
    if blocked:
        return [Rejected("mentions_blocklisted", f"a message mentions {blocked!r}", raw=row, where=where)]
    if p.fastchat_clean and len([t for t in turns if t["role"] != "system"]) <= 1:
        return [Rejected("too_few_turns", "one message or none", raw=row, where=where)]
    if len(turns) > 1 and turns[-1]["role"] == "user" and any(t["role"] == "assistant" for t in turns):
        turns.pop()
        ctx.count("trailing_user_turns_dropped")
    meta = {"source": src.label}
    put_meta(meta, "orig_id", row.get("id"))
    first = finish(turns, dict(meta), where)
    if isinstance(first, Rejected) or p.max_tokens is None:
        return [first]
    return split(turns, meta, where, p.max_tokens, ctx)


def split(turns: list[dict], meta: dict, where: str, budget: int, ctx: StageContext) -> list[Item]:
    """Pieces of whole user/assistant pairs under `budget` tokens; the system prompt is repeated."""
    system = turns[:1] if turns[0]["role"] == "system" else []
    body = turns[len(system):]
    pieces = split_pairs(body, budget, piece_tokens(system))
    if len(pieces) > 1:
        ctx.count("conversations_split")
    out: list[Item] = []
    for start, end in pieces:
        part = system + body[start:end]
        piece_meta = dict(meta, piece=start) if len(pieces) > 1 else dict(meta)
        tokens = piece_tokens(part)
        if tokens > budget:
            out.append(Rejected("too_long", f"messages {start}-{end - 1}: about {tokens} tokens > {budget}",
                                raw=part, where=where, extra={"tokens": tokens}))
        else:
            out.append(finish(part, piece_meta, where))
    return out
