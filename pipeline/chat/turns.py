"""Text helpers shared by the conversation ops: labelled transcripts and simulated user turns."""

from __future__ import annotations

import re

_LABEL = re.compile(r"^\s*(?:\*\*)?(?:user|human|you|me|\[human\]|\[user\])(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*",
                    re.I)


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
