"""CAMEL role-playing (2023 paper version): role and task lists, the task specifier, the
inception system prompts of both agents, and the termination rules of the data script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.llm.parsing import numbered_items
from pipeline.prompts import load_prompt

TASK_DONE = "<CAMEL_TASK_DONE>"
INSTRUCTION = "Instruction:"
FAREWELLS = ("goodbye", "good bye", "thank", "bye", "welcome", "language model")
PROMPTS = ("camel_assistant_roles", "camel_user_roles", "camel_tasks", "camel_task_specifier_system",
           "camel_task_specify", "camel_assistant_system", "camel_user_system", "camel_user_start")


def first_lines(text: str) -> list[str]:
    """The first line of each item of a numbered list (commentary around the list ignored)."""
    items, _ = numbered_items(text)
    return [item.splitlines()[0].strip() for item in items]


def roles_messages(side: str, num_roles: int) -> list[dict]:
    name = "camel_assistant_roles" if side == "assistant" else "camel_user_roles"
    return [{"role": "user", "content": load_prompt(name).render(num_roles=num_roles)}]


def parse_roles(text: str, num_roles: int) -> list[str]:
    """Role names from a numbered list (markdown emphasis and trailing notes removed), unique."""
    roles: list[str] = []
    for item in first_lines(text):
        name = re.split(r"\s+[-–—:(]\s*|:\s*", item.replace("**", ""), maxsplit=1)[0].strip(" .")
        if name and name not in roles:
            roles.append(name)
    return roles[:num_roles]


def tasks_messages(assistant_role: str, user_role: str, num_tasks: int) -> list[dict]:
    text = load_prompt("camel_tasks").render(num_tasks=num_tasks, assistant_role=assistant_role,
                                             user_role=user_role)
    return [{"role": "user", "content": text}]


def parse_tasks(text: str, num_tasks: int) -> list[str] | None:
    """The numbered task list; None unless it holds exactly `num_tasks` items (as CAMEL requires)."""
    tasks = first_lines(text)
    return tasks if len(tasks) == num_tasks else None


def specify_messages(assistant_role: str, user_role: str, task: str, word_limit: int) -> list[dict]:
    system = load_prompt("camel_task_specifier_system").render()
    user = load_prompt("camel_task_specify").render(assistant_role=assistant_role, user_role=user_role,
                                                    task=task, word_limit=word_limit)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def system_prompts(assistant_role: str, user_role: str, task: str) -> tuple[str, str]:
    """(assistant agent's system prompt, user agent's system prompt)."""
    values = {"assistant_role": assistant_role, "user_role": user_role, "task": task}
    return (load_prompt("camel_assistant_system").render(**values),
            load_prompt("camel_user_system").render(**values))


def user_agent_messages(system: str, pairs: list[tuple[str, str]]) -> list[dict]:
    """The user agent's view: it is the `assistant` of its own chat; the solutions come in as `user`."""
    msgs = [{"role": "system", "content": system},
            {"role": "user", "content": load_prompt("camel_user_start").render()}]
    for instruction, solution in pairs:
        msgs += [{"role": "assistant", "content": instruction}, {"role": "user", "content": solution}]
    return msgs


def assistant_agent_messages(system: str, pairs: list[tuple[str, str]], instruction: str) -> list[dict]:
    msgs = [{"role": "system", "content": system}]
    for ins, sol in pairs:
        msgs += [{"role": "user", "content": ins}, {"role": "assistant", "content": sol}]
    return msgs + [{"role": "user", "content": instruction}]


@dataclass
class Limits:
    max_messages: int = 40
    user_no_instruct: int = 3
    assistant_instruct: int = 1
    repeat_word: int = 4
    farewells: tuple[str, ...] = FAREWELLS
    repeat_rule: str = "reference"   # "reference" (never stops, as CAMEL's code) or "consecutive"


@dataclass
class Referee:
    """Applies the termination rules step by step; counts messages as CAMEL does (each side one)."""

    limits: Limits
    no_instruct: int = 0
    instructs: int = 0
    repeats: int = 0
    repeat_hits: int = 0
    messages: int = 0

    def after_user(self, user_msg: str) -> str | None:
        """Checked before the assistant is asked: the user declared the task done."""
        return "task_done" if TASK_DONE in user_msg else None

    def after_pair(self, user_msg: str, assistant_msg: str) -> str | None:
        """Why the conversation stops after this step (the pair is then NOT kept), or None.

        The farewell rule either replays CAMEL's code (`reference`, which never stops a
        conversation) or counts consecutive steps in which either message holds a farewell word
        (`consecutive`, the rule's evident intent).
        """
        lim = self.limits
        self.no_instruct = 0 if INSTRUCTION in user_msg else self.no_instruct + 1
        if self.no_instruct >= lim.user_no_instruct:
            return "user_no_instruct_threshold"
        if INSTRUCTION in assistant_msg:
            self.instructs += 1
            if self.instructs >= lim.assistant_instruct:
                return "assistant_instruct_threshold"
        if lim.repeat_rule == "consecutive":
            both = (user_msg + "\n" + assistant_msg).lower()
            self.repeats = self.repeats + 1 if any(w in both for w in lim.farewells) else 0
            if self.repeats >= lim.repeat_word:
                return "repeat_word_threshold"
        else:
            self.reference_repeats(user_msg.lower(), assistant_msg.lower())
        return None

    def reference_repeats(self, user_msg: str, assistant_msg: str) -> None:
        """CAMEL's farewell counter exactly as its 2023 data script runs it.

        The counter goes up per word found and resets on every word absent, and reaching the
        threshold only leaves the loop over words: the conversation goes on, and the reason
        it records is overwritten by whatever ends the conversation later. So it never stops one;
        `repeat_word_hits` counts how often it fired.
        """
        for word in self.limits.farewells:
            if word in user_msg or word in assistant_msg:
                self.repeats += 1
                if self.repeats == self.limits.repeat_word:
                    self.repeat_hits += 1
                    break
            else:
                self.repeats = 0

    def keep_pair(self) -> str | None:
        """Count a kept pair; `max_num_messages` once the cap is reached."""
        self.messages += 2
        return "max_num_messages" if self.messages >= self.limits.max_messages else None


def replay(pairs: list[tuple[str, str | None]], limits: Limits | None = None) -> tuple[int, str]:
    """Apply the rules to a scripted transcript: (pairs kept, termination reason).

    A `None` assistant message means the assistant was never asked (the user ended first).
    """
    ref = Referee(limits or Limits())
    for kept, (user_msg, assistant_msg) in enumerate(pairs):
        end = ref.after_user(user_msg)
        if end or assistant_msg is None:
            return kept, end or "transcript_end"
        end = ref.after_pair(user_msg, assistant_msg)
        if end:
            return kept, end
        end = ref.keep_pair()
        if end:
            return kept + 1, end
    return len(pairs), "transcript_end"
