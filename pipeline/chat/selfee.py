"""SelFee-style self-feedback: the critique and revision prompts and the critique's verdict."""

from __future__ import annotations

import re

from pipeline.prompts import load_prompt

PROMPTS = ("selfee_feedback", "selfee_revise")
_VERDICT = re.compile(r"revision\s+is\s+(not\s+)?needed|no\s+revision\s+(?:is\s+)?needed", re.I)
_LABEL = re.compile(r"^\s*(?:#+\s*)?(?:\*\*)?(?:revised|improved|new)\s+answer(?:\*\*)?\s*[:：]?\s*(?:\*\*)?\s*",
                    re.I)


def feedback_messages(instruction: str, answer: str) -> list[dict]:
    text = load_prompt("selfee_feedback").render(instruction=instruction.strip(), answer=answer.strip())
    return [{"role": "user", "content": text}]


def revise_messages(instruction: str, answer: str, feedback: str) -> list[dict]:
    text = load_prompt("selfee_revise").render(instruction=instruction.strip(), answer=answer.strip(),
                                               feedback=feedback.strip())
    return [{"role": "user", "content": text}]


def parse_feedback(text: str) -> tuple[str, bool | None]:
    """(feedback, revision needed?). The LAST verdict phrase decides; None when there is none."""
    verdicts = list(_VERDICT.finditer(text))
    if not verdicts:
        return text.strip(), None
    last = verdicts[-1]
    needed = not (last.group(1) or last.group(0).lower().startswith("no"))
    return text.strip(), needed


def clean_revision(text: str) -> str:
    """A revision without a leading `Revised answer:` label."""
    return _LABEL.sub("", text.strip(), count=1).strip()
