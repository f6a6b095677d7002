"""SelFee self-feedback: the critique and revision prompts, the critique's verdict, the
clean-ups of a revision, and the chain layout SelFee trains on.

The critique asks for a short review, an optional 1-10 score and a closing "Revision is (not)
needed"; the revision is asked in the same chat as the critique. As in SelFee's collection
script, the first two revisions see the whole exchange so far and are asked to read as a first
try; later critiques start a fresh chat.
"""

from __future__ import annotations

import re

from pipeline.prompts import load_prompt

PROMPTS = ("selfee_feedback", "selfee_revise")
FRESH_AFTER = 2           # revisions after which each critique starts a fresh chat (SelFee)
_VERDICT = re.compile(r"revision\s+is\s+(not\s+)?needed|no\s+revision\s+(?:is\s+)?needed", re.I)
_SCORE = re.compile(r"(?:score|rating|rate|quality)\D{0,20}?\b(10|[1-9])(?:\s*/\s*10|\s+out\s+of\s+10)?\b"
                    r"|\b(10|[1-9])\s*(?:/|out\s+of)\s*10\b", re.I)
_LABEL = re.compile(r"^\s*(?:#+\s*)?(?:\*\*)?(?:revised|improved|new)\s+answer(?:\*\*)?\s*[:：]?\s*(?:\*\*)?\s*"
                    r"|^\s*revision\s*[:：]\s*", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_APOLOGY = re.compile(r"\bi\s+apologi[sz]e", re.I)


def feedback_messages(instruction: str, answer: str, history: list[dict] = ()) -> list[dict]:
    """The critique request; `history` is the exchange so far when SelFee keeps it."""
    text = load_prompt("selfee_feedback").render(instruction=instruction.strip(), answer=answer.strip())
    return list(history) + [{"role": "user", "content": text}]


def revise_messages(critique_chat: list[dict], feedback: str, revisions_done: int) -> list[dict]:
    """The revision request, in the critique's own chat (the model revises after its critique)."""
    ask = load_prompt("selfee_revise").render(first_try=revisions_done < FRESH_AFTER)
    return critique_chat + [{"role": "assistant", "content": feedback.strip()},
                            {"role": "user", "content": ask}]


def parse_feedback(text: str) -> tuple[str, bool | None]:
    """(feedback, revision needed?). The LAST verdict phrase decides; without one, a stated
    1-10 score decides (below 9: needed, SelFee's rule); None when there is neither."""
    verdicts = list(_VERDICT.finditer(text))
    if verdicts:
        last = verdicts[-1]
        return text.strip(), not (last.group(1) or last.group(0).lower().startswith("no"))
    score = feedback_score(text)
    return text.strip(), (None if score is None else score < 9)


def feedback_score(text: str) -> int | None:
    """The 1-10 score a critique states, if any (the last one)."""
    found = list(_SCORE.finditer(text))
    if not found:
        return None
    m = found[-1]
    return int(m.group(1) or m.group(2))


def is_na(text: str) -> bool:
    """SelFee stops revising when a revision says N/A (nothing to revise)."""
    return "N/A" in text


def clean_revision(text: str) -> str:
    """SelFee's clean-ups: no leading label, no trailing sentence about the revision (repeatedly,
    with empty trailing lines), no leading apology sentence."""
    text = _LABEL.sub("", text.strip(), count=1).strip()
    while True:
        cut = _drop_revision_sentence(text)
        if cut == text:
            break
        text = cut
    first, sep, rest = _split_first_sentence(text)
    if sep and _APOLOGY.search(first):
        text = rest
    return text.strip()


def _drop_revision_sentence(text: str) -> str:
    head, _, last = text.rpartition("\n")
    if not last.strip():
        return head.rstrip() if head else text
    sentences = _SENTENCE_END.split(last.strip())
    if "revision " in sentences[-1].lower():
        kept = " ".join(sentences[:-1])
        return (head + "\n" + kept).rstrip() if head else kept
    return text


def _split_first_sentence(text: str) -> tuple[str, bool, str]:
    m = _SENTENCE_END.search(text)
    if not m:
        return text, False, ""
    return text[:m.start()], True, text[m.end():]


def chain_text(steps: list[dict]) -> str:
    """The assistant turn SelFee trains on: the answer, then `### Feedback N:` and
    `### Revision N:` blocks in order (each step: `answer`, optional `feedback`)."""
    out = ""
    for i, step in enumerate(steps):
        out += step["answer"] if i == 0 else f"\n\n### Revision {i}:\n{step['answer']}"
        if "feedback" in step:
            out += f"\n\n### Feedback {i + 1}:\n{step['feedback']}"
    return out
