"""Scorer prompts as chat messages: the rules in the system message, the record as quoted data.

Record text is delimited by marker lines carrying a boundary code derived from the text itself
(a hash), so no record can contain — and so close or forge — its own markers. Text is inserted
as data by the sandboxed renderer and never rendered again (`{{ x }}` stays as it is).
"""

from __future__ import annotations

import hashlib

from pipeline.prompts import load_prompt
from pipeline.record import Record

DIMENSIONS = {
    "accuracy": "whether the answer is correct, factually accurate and does what the task asks; "
                "errors, invented facts and ignored requirements lower the score.",
    "helpfulness": "how well the answer meets the user's need: relevant, complete, clear and useful; "
                   "padding, evasion and missing parts lower the score.",
}
JUDGE_PROMPTS = ("judge_system", "judge_user", "judge_reask")
DEITA_PROMPTS = ("deita_complexity_system", "deita_complexity_user", "deita_quality_system",
                 "deita_quality_user", "deita_reask")
TAG_PROMPTS = ("tag_system", "tag_user", "tag_reask")


def boundary_for(*texts: str, prefix: str = "REC-", salt: str = "") -> str:
    """A marker code that occurs in none of `texts` (a hash of them, re-hashed on a clash)."""
    seed = salt + "\x1f".join(texts)
    while True:
        code = prefix + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:12].upper()
        if not any(code in t for t in texts):
            return code
        seed = code + seed


def reply_code_for(*texts: str) -> str:
    """The code a judge's reply must start with: derived from the record like its boundary, but
    another value that the record never shows, so a record cannot spell out a reply that passes."""
    return boundary_for(*texts, prefix="ANS-", salt="reply code\x1e")


def criterion_for(dimension: str, criterion: str | None) -> str:
    if criterion:
        return criterion
    return DIMENSIONS.get(dimension, f"the {dimension} of the answer, as a careful expert would judge it.")


def exchange(rec: Record) -> tuple[str, str, str]:
    """(earlier conversation as text, last user turn, last assistant turn) of a complete record."""
    last_user = max(i for i, m in enumerate(rec.messages) if m["role"] == "user")
    context = "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in rec.messages[:last_user])
    return context, rec.messages[last_user]["content"], rec.response


def judge_reply_code(rec: Record) -> str:
    return reply_code_for(*exchange(rec))


def judge_messages(rec: Record, dimension: str, criterion: str | None = None,
                   coded: bool = True) -> list[dict]:
    """The judge's request; with `coded`, its reply must begin with `judge_reply_code(rec)`."""
    context, instruction, response = exchange(rec)
    system = load_prompt("judge_system").render(dimension=dimension, coded=coded,
                                                criterion=criterion_for(dimension, criterion))
    user = load_prompt("judge_user").render(
        boundary=boundary_for(context, instruction, response), context=context,
        instruction=instruction, response=response, dimension=dimension,
        reply_code=judge_reply_code(rec) if coded else "")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def complexity_messages(query: str) -> list[dict]:
    user = load_prompt("deita_complexity_user").render(boundary=boundary_for(query), query=query)
    return [{"role": "system", "content": load_prompt("deita_complexity_system").render()},
            {"role": "user", "content": user}]


def quality_messages(question: str, response: str) -> list[dict]:
    user = load_prompt("deita_quality_user").render(boundary=boundary_for(question, response),
                                                    question=question, response=response)
    return [{"role": "system", "content": load_prompt("deita_quality_system").render()},
            {"role": "user", "content": user}]


def tag_messages(queries: list[str]) -> list[dict]:
    user = load_prompt("tag_user").render(boundary=boundary_for(*queries), queries=list(queries))
    return [{"role": "system", "content": load_prompt("tag_system").render()},
            {"role": "user", "content": user}]


def reask_message(prompt: str, problem: str, **values) -> dict:
    return {"role": "user", "content": load_prompt(prompt).render(problem=problem, **values)}
