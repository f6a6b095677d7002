"""Evol-Instruct's operations and its elimination rules (WizardLM paper; WizardCoder methods).

An evolution fails when the evolved instruction copies words of the evolving prompt, when the
LLM judges it equal to the original (no information gain), when its response says "sorry" in
under 80 words (unless the original mentions "sorry" too), or when the response holds only
punctuation and stop words (NLTK's English list).
"""

from __future__ import annotations

import re

DEPTH = {
    "add_constraints": "Add one more constraint or requirement to it.",
    "deepening": "If it asks about certain issues, increase the depth and breadth of what it asks.",
    "concretizing": "Replace general concepts with more specific ones.",
    "increased_reasoning": "If it can be solved with only a few simple thinking steps, rewrite it so that "
                           "it explicitly asks for reasoning in several steps.",
    "complicate_input": "Add structured input data that the prompt must work with, such as a small table, "
                        "a code snippet, JSON, XML, an SQL query or a formula, and refer to it in the prompt. "
                        "The added data does not count towards the word limit below.",
}
BREADTH = "breadth"
OPERATIONS = (*DEPTH, BREADTH)

CODE_METHODS = {
    "add_constraints": "Add new constraints and requirements to the original problem, adding about 10 words.",
    "specific_requirement": "Replace a commonly used requirement in the problem with a less common and "
                            "more specific one.",
    "more_reasoning": "If the original problem can be solved with only a few logical steps, add more "
                      "reasoning steps.",
    "erroneous_code": "Provide a piece of erroneous code as a reference to increase misdirection.",
    "complexity": "Propose higher time or space complexity requirements, but do not do so often.",
}

COPY_MARKERS = ("given prompt", "rewritten prompt", "created prompt", "#given prompt#",
                "#rewritten prompt#", "#created prompt#", "#the given prompt#",
                "given programming test question")

STOPWORDS = frozenset("""
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he
him his himself she she's her hers herself it it's its itself they them their theirs themselves what
which who whom this that that'll these those am is are was were be been being have has had having do
does did doing a an the and but if or because as until while of at by for with about against between
into through during before after above below to from up down in out on off over under again further
then once here there when where why how all any both each few more most other some such no nor not
only own same so than too very s t can will just don don't should should've now d ll m o re ve y ain
aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't
ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren weren't
won won't wouldn wouldn't
""".split())

SORRY_MAX_WORDS = 80


def copied_prompt_words(evolved: str) -> str | None:
    """The first words of the evolving prompt found in the evolved instruction, or None."""
    low = evolved.lower()
    return next((m for m in COPY_MARKERS if m in low), None)


def sorry_and_short(response: str, original: str) -> bool:
    """The response shows the model struggling: 'sorry' in fewer than 80 words (not when the
    original instruction itself mentions 'sorry')."""
    return ("sorry" in response.lower() and len(response.split()) < SORRY_MAX_WORDS
            and "sorry" not in original.lower())


def only_stopwords(response: str) -> bool:
    """True when the response has no word that is not a stop word (punctuation only counts too)."""
    words = re.findall(r"[\w']+", response.lower())
    return all(w.strip("'") in STOPWORDS or not w.strip("'") for w in words)


def parse_equal(text: str | None) -> bool | None:
    """The equality verdict: True for 'Equal', False for 'Not Equal', None when it is neither."""
    words = re.findall(r"[a-z]+", (text or "").lower())
    if words[:2] == ["not", "equal"]:
        return False
    if words[:1] == ["equal"]:
        return True
    return None


def unchanged(evolved: str, original: str) -> bool:
    return " ".join(evolved.split()).lower() == " ".join(original.split()).lower()
