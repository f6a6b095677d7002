"""From a raw response body to a `Reply`, and what is wrong with a reply (empty, refusal, incomplete).

Anything but `finish_reason == "stop"` is incomplete (length, content_filter, vendor extras
such as `model_length`). Refusals are `message.refusal` or a short reply opening with refusal
prose; empty is `None` or whitespace-only content.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from pipeline.llm.types import Reply, Request
from pipeline.record import repair_unicode

log = logging.getLogger(__name__)

_REFUSAL_RE = re.compile(
    r"^\W*(i['’]?m sorry,? but i (?:can(?:not|['’]t)|won['’]t|am (?:not able|unable))"
    r"|i (?:can(?:not|['’]t)|won['’]t|am unable to|am not able to) "
    r"(?:help|assist|comply|provide|fulfil|do that|answer|support|create|generate|write)"
    r"|as an ai(?: language model)?,? i (?:can(?:not|['’]t)|am (?:not able|unable)))",
    re.IGNORECASE)
REFUSAL_MAX_CHARS = 400


class MalformedResponse(Exception):
    """A 2xx response whose body is not a completion (retried like a server error)."""


def decode_response(data: bytes | str) -> dict:
    """The JSON body of a completion, or MalformedResponse."""
    try:
        obj = json.loads(data)
    except ValueError as e:
        raise MalformedResponse(f"response is not JSON ({e})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("choices"), list) or not obj["choices"] \
            or not isinstance(obj["choices"][0], dict):
        raise MalformedResponse("response has no choices")
    return obj


def to_reply(request: Request, obj: dict, *, cached: bool) -> Reply:
    # A lone surrogate escape is valid JSON but not UTF-8: it would crash every write and any
    # later request quoting this text, so it becomes U+FFFD here (fresh and cached replies alike).
    obj, repaired = repair_unicode(obj)
    if repaired:
        log.warning("a reply held %d text(s) with a lone surrogate; replaced by U+FFFD", repaired)
    choice = obj["choices"][0]
    message = choice.get("message")
    if isinstance(message, dict):
        text, refusal = message.get("content"), message.get("refusal")
    else:
        text, refusal = choice.get("text"), None
    usage = obj.get("usage")
    return Reply(request, text if isinstance(text, str) else None, choice.get("finish_reason"),
                 refusal if isinstance(refusal, str) and refusal else None,
                 tokens_in=_count(usage, "prompt_tokens"), tokens_out=_count(usage, "completion_tokens"),
                 cached=cached, raw=obj)


def _count(usage: object, name: str) -> int:
    """A token count from `usage` (0 when missing or not a number: some servers omit it)."""
    value = usage.get(name) if isinstance(usage, dict) else None
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else 0


def error_reply(request: Request, message: str) -> Reply:
    return Reply(request, None, error=message)


def looks_like_refusal(text: str) -> bool:
    return len(text) <= REFUSAL_MAX_CHARS and bool(_REFUSAL_RE.match(text))


def problem(reply: Reply, *, refusal_prose: bool = True) -> str | None:
    """Why a reply cannot be used as an answer: llm_error, refusal, empty, incomplete; else None."""
    if reply.error is not None:
        return "llm_error"
    if reply.refusal:
        return "refusal"
    if reply.text is None or not reply.text.strip():
        return "empty"
    if refusal_prose and looks_like_refusal(reply.text):
        return "refusal"
    if not reply.complete:
        return "incomplete"
    return None


def describe(reply: Reply) -> str:
    """One line about a bad reply, for a rejection's detail."""
    if reply.error is not None:
        return reply.error
    if reply.refusal:
        return f"refusal: {reply.refusal[:200]}"
    return f"finish_reason={reply.finish_reason}, {len(reply.text or '')} characters"


def raw_text(reply: Reply) -> Any:
    """What to keep of a rejected reply: its text, else its refusal, else the raw body."""
    if reply.text:
        return reply.text
    return reply.refusal or reply.raw
