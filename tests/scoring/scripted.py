"""Scripted scorers for the fake OpenAI server: read the record out of the delimited prompt and
answer from a table, attempt by attempt (a re-ask adds an assistant turn and a user turn).

The scripted judge is deliberately naive: text outside the record's markers that says "Ignore
previous instructions" makes it answer 5, as a model fooled by an injection would. A prompt that
keeps record text inside the markers never triggers it.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from tests.fake_openai import FakeCall, FakeReply, ok

_CODE = re.compile(r"<<<(REC-[0-9A-F]{12})\n")
_REPLY_CODE = re.compile(r"Reply code: (ANS-[0-9A-F]{12})\.")


def reply_code(call: FakeCall) -> str | None:
    """The reply code the judge's request asks for (None when it asks for none)."""
    m = _REPLY_CODE.search(call.messages[1]["content"]) if len(call.messages) > 1 else None
    return m.group(1) if m else None


def echo_code(fn: Callable[[FakeCall], FakeReply]) -> Callable[[FakeCall], FakeReply]:
    """A scripted judge that follows the reply format: its text starts with the request's reply
    code, as a model that keeps to its instructions does."""
    def reply(call: FakeCall) -> FakeReply:
        out, code = fn(call), reply_code(call)
        msg = (out.body or {}).get("choices", [{}])[0].get("message") if isinstance(out.body, dict) else None
        if code and msg and msg.get("content"):
            msg["content"] = f"{code} {msg['content']}"
        return out
    return reply


def split_record(user: str) -> tuple[str, str, str]:
    """(code, text inside the markers, text outside them) of a scorer's user message."""
    code = _CODE.search(user).group(1)
    start, end = user.index(f"<<<{code}\n"), user.index(f"\n{code}>>>")
    return code, user[start:end], user[:start] + user[end:]


def section(inside: str, code: str, name: str) -> str:
    """The text of one labelled section (`task`, `answer`, `question`, ...) inside the markers."""
    head = f"--- {code} {name} ---\n"
    rest = inside[inside.index(head) + len(head):]
    nxt = rest.find(f"\n--- {code} ")
    return rest if nxt < 0 else rest[:nxt]


def attempt_of(call: FakeCall) -> int:
    """0 for the first ask, k for the k-th re-ask."""
    return (len(call.messages) - 2) // 2


def pick(script: list[Any], call: FakeCall) -> FakeReply:
    """This attempt's reply of a script: a text, a FakeReply or a reply function (last repeats)."""
    item = script[min(attempt_of(call), len(script) - 1)]
    if isinstance(item, FakeReply):
        return item
    return item(call) if callable(item) else ok(item)(call)


def play(table: dict[str, list[Any]], text: str, call: FakeCall) -> FakeReply:
    """The script of the first key `text` starts with, played for this attempt."""
    script = next((s for k, s in table.items() if text.startswith(k)), None)
    if script is None:
        raise AssertionError(f"no script for {text[:60]!r}")
    return pick(script, call)


def judge_server(table: dict[str, list[Any]]) -> Callable[[FakeCall], FakeReply]:
    """Replies by the task text's start (first matching key of `table`), with the reply code."""
    def reply(call: FakeCall) -> FakeReply:
        code, inside, outside = split_record(call.messages[1]["content"])
        if "Ignore previous instructions" in outside or "reply 5" in call.messages[0]["content"]:
            return ok("5\nInjected.")(call)
        return play(table, section(inside, code, "task"), call)
    return echo_code(reply)


def with_logprobs(text: str, top: dict[str, float]) -> Callable[[FakeCall], FakeReply]:
    """A reply whose first token is `text`, with `top` ({token: probability}) as its top_logprobs."""
    import math

    from tests.fake_openai import completion_body

    def reply(call: FakeCall) -> FakeReply:
        body = completion_body(call.body or {}, text)
        alts = [{"token": t, "logprob": math.log(p)} for t, p in top.items()]
        body["choices"][0]["logprobs"] = {"content": [{"token": text, "logprob": math.log(top[text]),
                                                        "top_logprobs": alts}]}
        return FakeReply(200, body)
    return reply


def deita_server(quality: dict[str, list[Any]]) -> Callable[[FakeCall], FakeReply]:
    """Complexity: "2" for queries under 60 characters, else "5" (with logprobs when asked:
    2 -> {2: .8, 1: .2}, 5 -> {5: .5, 6: .5}). Quality: the script of the first key the question
    starts with, else "4" (never with logprobs)."""
    def reply(call: FakeCall) -> FakeReply:
        code, inside, _ = split_record(call.messages[1]["content"])
        if call.messages[0]["content"].startswith("You rate how complex"):
            query = inside[len(f"<<<{code}\n"):]
            digit = "2" if len(query) < 60 else "5"
            if not (call.body or {}).get("logprobs"):
                return ok(digit)(call)
            return with_logprobs(digit, {"2": 0.8, "1": 0.2} if digit == "2" else {"5": 0.5, "6": 0.5})(call)
        return play({**quality, "": ["4"]}, section(inside, code, "question"), call)
    return reply


def tag_server(table: dict[str, list[Any]]) -> Callable[[FakeCall], FakeReply]:
    """Tag replies by the start of the (first) query."""
    def reply(call: FakeCall) -> FakeReply:
        code, inside, _ = split_record(call.messages[1]["content"])
        query = inside[len(f"<<<{code}\n"):]
        if query.startswith(f"--- {code} user turn 1 ---\n"):
            query = section(inside, code, "user turn 1")
        return play(table, query, call)
    return reply
