"""A scripted model for the methods ops: realistic replies routed on the system message's opening."""

from __future__ import annotations

import re

from tests.fake_openai import FakeCall, FakeReply, completion_body


def between(text: str, head: str) -> str:
    """The block after a `--- CODE head ---` marker line, up to the next marker or the closing one."""
    m = re.search(r"--- REC-\w+ " + re.escape(head) + r" ---\n(.*?)\n(?:--- REC-|REC-\w+>>>)", text, re.S)
    return m.group(1) if m else ""


class Model:
    """`model(call) -> FakeReply`. Continuation-looking outputs (ending mid-sentence, repeating the
    prompt's list) are classified `continuation`; outputs containing UNREADABLE get a reply the
    parser refuses once, then a good one."""

    def __call__(self, call: FakeCall) -> FakeReply:
        return FakeReply(200, completion_body(call.body or {}, self.reply(call)))

    def reply(self, call: FakeCall) -> str:
        msgs = call.messages
        system = msgs[0]["content"] if msgs and msgs[0]["role"] == "system" else ""
        if system.startswith("You sort model outputs by their form"):
            return self.ifs(call)
        return "I cannot help with that."

    def ifs(self, call: FakeCall) -> str:
        output = between(msgs_user(call), "output")
        if "UNREADABLE" in output and len(call.messages) == 2:
            return "It is an answer, I believe."
        if output.rstrip().endswith((",", " and", " the")) or output.lstrip().startswith(("2.", "Question 2")):
            return "continuation\nThe output carries on the prompt's own text."
        return "**Answer**\nIt replies to the request directly."


def msgs_user(call: FakeCall) -> str:
    return next(m["content"] for m in call.messages if m["role"] == "user")
