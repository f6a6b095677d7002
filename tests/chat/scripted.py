"""A scripted model for the fake OpenAI server: plausible replies to every chat-op prompt.

Translations and native answers are real sentences in the requested language (so language
identification sees the right language); a number derived from the input keeps them distinct.
Hooks: `wrong_language(call)` makes an answer or translation come back in English.
"""

from __future__ import annotations

import re
from typing import Callable

from tests.fake_openai import FakeCall, FakeReply, completion_body

SENTENCES = {
    "Chinese": "请用简单的话解释这个问题，并举一个具体的例子。",
    "German": "Bitte erkläre diese Aufgabe in einfachen Worten und gib ein konkretes Beispiel.",
    "French": "Explique cette tâche avec des mots simples et donne un exemple concret.",
    "English": "Please explain this task in simple words and give a concrete example.",
}
ANSWERS = {
    "Chinese": "这是一个用中文写的回答。首先说明问题的背景，然后给出清楚的步骤和例子。",
    "German": "Das ist eine Antwort auf Deutsch. Zuerst wird der Hintergrund erklärt, dann folgen klare "
              "Schritte und ein Beispiel.",
    "French": "Voici une réponse en français. On explique d'abord le contexte, puis on donne des étapes "
              "claires et un exemple.",
    "English": "Here is an answer in English. It first explains the background, then gives clear steps "
               "and an example.",
}


def tag(text: str) -> str:
    return f"({sum(map(ord, text)) % 9973})"


class Model:
    """`model(call) -> FakeReply`; set `wrong_language` to script English replies."""

    def __init__(self):
        self.wrong_language: Callable[[FakeCall], bool] = lambda call: False

    def __call__(self, call: FakeCall) -> FakeReply:
        text = self.reply(call)
        finish = "stop"
        if isinstance(text, tuple):
            text, finish = text
        return FakeReply(200, completion_body(call.body or {}, text, finish_reason=finish))

    def reply(self, call: FakeCall):
        """Route on the system message, else on the last user message."""
        msgs = call.messages
        system = msgs[0]["content"] if msgs and msgs[0]["role"] == "system" else ""
        last = call.last_user
        for where, pattern, fn in self.routes():
            if re.match(pattern, system if where == "system" else last):
                return fn(call, system, last)
        return self.plain(call, system)

    def routes(self):
        return [
            ("system", "You turn vague tasks", self.specify),
            ("system", "Always remember that you are", self.camel),
            ("user", "Set aside any instructions", self.baize),
            ("user", "You are a helpful assistant who can take on", self.roles),
            ("user", r"List \d+ (common and varied groups|varied tasks)", self.list_prompt),
            ("user", "You are playing a curious human user", self.simulated_user),
            ("user", "Write one specific question about", lambda c, s, f: "How do tides work on other planets?"),
            ("user", r"(?s)Here is a text:.*\nWrite \d+ different requests", self.ultra_list),
            ("user", "Here is a text:", lambda c, s, f: "User: Summarise this text in two sentences."),
            ("user", r"List \d+ distinct sub-topics|Write \d+ different (questions|instructions)|Here is a question "
                     r"someone asked", self.ultra_list),
            ("user", "Rewrite the writing instruction below",
             lambda c, s, f: re.search(r"Instruction: (.*)\n", f).group(1) + " It is for new staff, in 200 words."),
            ("user", r"(?s).*\nHere is a proposed answer:\n", self.feedback),
            ("user", "Revise the answer following your own critique", self.revise),
            ("user", "Translate the text below from", self.translate),
            ("user", "Please translate this", self.bayling_request),
            ("user", "You are a user working with an AI assistant", self.followup),
        ]

    # -- Baize --------------------------------------------------------------------------------
    def baize(self, call, system, prompt):
        topic = re.search(r"topic: '(.*)'\. Every", prompt, re.S).group(1)
        if prompt.endswith("[Human] "):                     # v2: the next human line
            k = prompt.count("\n[Human] ") - 2        # the primer and the open line are not rounds
            if "shy" in topic and k >= 1:
                return "[AI] (nothing more to ask)"
            return f"Question {k + 1} about {topic}?"
        if "malformed" in topic:
            return "Human: what is it?\nAI: something.\nHuman: ok"
        if "long talk" in topic:                            # more rounds than any default cap
            return "".join(f"[Human] Point {i}?\n[AI] Answer {i}.\n" for i in range(1, 9)) + "[Human] Bye"
        return (f"[Human] Tell me about {topic}.\n[AI] Here is an overview of {topic}.\n"
                f"[Human] Why does it matter?\n[AI] Because it affects daily life.\n"
                f"[Human] Any tips?\n[AI] Start small and practise.\n[Human] Thanks, and what abo"), "length"

    # -- CAMEL --------------------------------------------------------------------------------
    def roles(self, call, system, prompt):
        return "Sure:\n1. Chef\n2. Translator\n3. Zoologist"

    def list_prompt(self, call, system, prompt):
        if "groups of internet users" in prompt:
            return "1. Student\n2. Teacher"
        m = re.search(r"List (\d+) varied tasks that a (.+?) could help a (.+?) accomplish", prompt)
        if m.group(3) == "Teacher":
            return "Here you go:\n1. Plan a lesson."            # one task, not the two asked for
        return "1. Bake bread together.\n2. Plan a weekly menu."

    def specify(self, call, system, prompt):
        task = re.search(r"with this task: (.*)\n", prompt).group(1)
        return f"{task.rstrip('.')} within one week, step by step."

    def camel(self, call, system, last):
        done = sum(1 for m in call.messages if m["role"] == "assistant")
        if "You will always give me instructions" in system:      # the user agent
            if "bread" in system and done >= 2:
                return "<CAMEL_TASK_DONE>"
            return f"Instruction: do step {done + 1}\nInput: None"
        if "menu" in system and done >= 1:
            return "Instruction: now you plan the drinks\nInput: None"
        return f"Solution: step {done + 1} is done like this.\nNext request."

    # -- UltraChat ----------------------------------------------------------------------------
    def ultra_list(self, call, system, prompt):
        n = int(re.search(r"(?:List|Write) (\d+)", prompt).group(1))
        if "sub-topics" in prompt:
            topic = re.search(r'subject "(.*?)"', prompt).group(1)
            if "Unlistable" in topic:
                return "I would rather not make a list."
            return "\n".join(f"{i}. {topic} corner {i}" for i in range(1, n + 1))
        if "different questions" in prompt:
            sub = re.search(r'about "(.*?)"', prompt).group(1)
            return "\n".join(f"{i}. Why does {sub} matter, part {i}?" for i in range(1, n + 1))
        if "Here is a question" in prompt:
            q = prompt.split("\n")[1]
            return "\n".join(f"{i}. A follow-up to '{q}' number {i}?" for i in range(1, n + 1))
        if "different instructions" in prompt:
            kind = re.search(r"to write a (.*?)\.", prompt).group(1)
            return "\n".join(f"{i}. Write a {kind} about topic {i % 3}." for i in range(1, n + 1))
        return "\n".join(f"{i}. Request {i}: explain the main point." for i in range(1, n + 1))

    def simulated_user(self, call, system, prompt):
        n = prompt.count("\n\nAssistant: ") + prompt.count("\nAssistant: ") // 2
        return f"User: Interesting. Can you say more about point {n}?"

    # -- SelFee -------------------------------------------------------------------------------
    def feedback(self, call, system, prompt):
        answer = prompt.split("Here is a proposed answer:\n", 1)[1].split("\n\nIs there anything", 1)[0]
        if "unclear" in prompt:
            return "Looks fine, I guess."
        if "stubborn" in prompt:
            return "Still short of an example. I rate it 5 out of 10."     # a score and no verdict
        if "(revised)" in answer:
            return "Now it is complete. Score: 9/10\nRevision is not needed"
        return "It lacks an example. Score: 6/10\nRevision is needed"

    def revise(self, call, system, prompt):
        critique = call.messages[-3]["content"]
        if "nothing to add" in critique:
            return "N/A"
        answer = critique.split("Here is a proposed answer:\n", 1)[1].split("\n\nIs there anything", 1)[0]
        return f"Revised answer:\nI apologize for the gap. {answer} (revised)\nThis revision adds the example."

    # -- translation --------------------------------------------------------------------------
    def translate(self, call, system, prompt):
        target = re.search(r"into (\w+)\. Translate everything", prompt).group(1)
        source = prompt.split("Write only the translation, with no notes.\n\n", 1)[1]
        markers = " ".join(re.findall(r"⟦\d+⟧", source))
        lang = "English" if self.wrong_language(call) else target
        return f"{SENTENCES[lang]} {tag(source)} {markers}".strip()

    def bayling_request(self, call, system, prompt):
        target = re.search(r"text into (\w+):", prompt).group(1)
        return f"{SENTENCES[target]} {tag(prompt)}"

    def followup(self, call, system, prompt):
        return f"User: \"Please make it a little more formal {tag(prompt)}.\""

    def plain(self, call, system):
        m = re.search(r"Always answer in (\w+)", system)
        last = call.last_user
        if m:
            lang = "English" if self.wrong_language(call) else m.group(1)
            return f"{ANSWERS[lang]} {tag(last)}"
        return f"Answer: {last[:60]}"
