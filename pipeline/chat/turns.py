"""Shared pieces of conversation ops: judging one reply, labelled transcripts, numbered lists.

A reply that failed, was refused, came back empty or was cut off never becomes a turn: the
conversation ends before it, and the op keeps the complete rounds or rejects the record.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.llm.types import Reply
from pipeline.record import Record, Rejected

_NUMBERED = re.compile(r"^\s*(?:\d{1,3}|[-*•])\s*[.)、:]?\s+(.+?)\s*$")
_LABEL = re.compile(r"^\s*(?:\*\*)?(?:user|human|you|me|\[human\]|\[user\])(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*",
                    re.I)


def reply_problem(reply: Reply) -> str | None:
    """Why a reply cannot become a turn (`llm_error`, `refusal`, `empty_output`, `truncated`)."""
    if reply.error:
        return "llm_error"
    if reply.refusal:
        return "refusal"
    if not reply.text or not reply.text.strip():
        return "empty_output"
    if not reply.complete:
        return "truncated"
    return None


def reply_detail(reply: Reply) -> str:
    if reply.error:
        return reply.error
    if reply.refusal:
        return f"refused: {reply.refusal}"
    return f"finish_reason={reply.finish_reason}"


def labelled(messages: list[dict], user: str = "User", assistant: str = "Assistant") -> str:
    """A conversation as text, one `Label: content` block per turn (system turns left out)."""
    names = {"user": user, "assistant": assistant}
    return "\n\n".join(f"{names[m['role']]}: {m['content']}" for m in messages if m["role"] in names)


def clean_user_turn(text: str) -> str:
    """A simulated user's message without a `User:` label, wrapping quotes, or a made-up answer."""
    out = _LABEL.sub("", text.strip(), count=1)
    cut = re.search(r"\n\s*(?:\*\*)?(?:assistant|ai|\[ai\])(?:\*\*)?\s*[:：]", out, re.I)
    if cut:
        out = out[:cut.start()]
    out = out.strip()
    if len(out) >= 2 and out[0] == out[-1] and out[0] in "\"'“”" or (out[:1], out[-1:]) == ("“", "”"):
        out = out[1:-1].strip()
    return out


def numbered_items(text: str) -> list[str]:
    """Items of a numbered or bulleted list, in order, text only (`1. Chef` -> `Chef`)."""
    items = []
    for line in text.splitlines():
        m = _NUMBERED.match(line)
        if m:
            items.append(m.group(1).strip())
    return items


def conversation_item(seed: Record, messages: list[dict], meta: dict[str, Any], *, end: str,
                      raw: Any = None, min_rounds: int = 1) -> Record | Rejected:
    """The record of a finished conversation, or a rejection when too few rounds survived.

    `end` is why the conversation stopped; a failed request (`llm_error`) always rejects.
    """
    rounds = sum(1 for m in messages if m["role"] == "assistant")
    meta = dict(meta, turns=rounds, stop_reason=end)
    if end == "llm_error" or rounds < min_rounds:
        reason = end if end in ("llm_error", "refusal", "empty_output", "truncated") else "too_few_turns"
        return Rejected(reason, f"{rounds} complete round(s), ended by {end}", record=seed,
                        extra={"raw": raw if raw is not None else messages, "stop_reason": end})
    return seed.derive(messages, **meta)
