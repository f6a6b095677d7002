"""A scripted model for the methods ops: realistic replies routed on the system message's opening."""

from __future__ import annotations

import math
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
        text = self.reply(call)
        if isinstance(text, tuple):                      # (text, P(yes)): a reply with logprobs
            text, yes = text
            body = completion_body(call.body or {}, text)
            if (call.body or {}).get("logprobs"):
                body["choices"][0]["logprobs"] = {"content": [yes_no_logprobs(text, yes)]}
            return FakeReply(200, body)
        return FakeReply(200, completion_body(call.body or {}, text))

    def reply(self, call: FakeCall) -> str:
        msgs = call.messages
        system = msgs[0]["content"] if msgs and msgs[0]["role"] == "system" else ""
        if system.startswith("You sort model outputs by their form"):
            return self.ifs(call)
        if msgs and msgs[0]["content"].startswith("You are an evaluator that answers a yes/no question"):
            return self.unieval(call)
        return "I cannot help with that."

    def unieval(self, call: FakeCall):
        """P(yes) by dimension; garbled responses score low; NOLOGPROBS answers in words only."""
        prompt = call.messages[0]["content"]
        response = between(prompt, "response")
        dim = next(k for k in UNIEVAL if f"Is this a{'n' if k[0] == 'u' else ''} {k} response" in prompt)
        if "UNREADABLE" in response and len(call.messages) == 1:
            return "Maybe, it depends."
        if "NOLOGPROBS" in response:
            return "Yes."
        yes = UNIEVAL[dim][1 if "garbled" in response else 0]
        return ("Yes" if yes >= 0.5 else "No"), yes

    def ifs(self, call: FakeCall) -> str:
        output = between(msgs_user(call), "output")
        if "UNREADABLE" in output and len(call.messages) == 2:
            return "It is an answer, I believe."
        if output.rstrip().endswith((",", " and", " the")) or output.lstrip().startswith(("2.", "Question 2")):
            return "continuation\nThe output carries on the prompt's own text."
        return "**Answer**\nIt replies to the request directly."


UNIEVAL = {"natural": (0.8, 0.2), "coherent": (0.6, 0.3), "understandable": (0.9, 0.25)}


def yes_no_logprobs(text: str, yes: float) -> dict:
    first = text.split()[0]
    alts = [{"token": "Yes", "logprob": math.log(yes)}, {"token": "No", "logprob": math.log(1 - yes)},
            {"token": " yes", "logprob": math.log(1e-4)}]
    return {"token": first, "logprob": math.log(yes if first == "Yes" else 1 - yes), "top_logprobs": alts}


def msgs_user(call: FakeCall) -> str:
    return next(m["content"] for m in call.messages if m["role"] == "user")
