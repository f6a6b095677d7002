"""Deita's released scorer models (complexity and quality, LLaMA fine-tunes) served behind any
OpenAI-compatible completions endpoint (vLLM, llama.cpp), used as Deita's scorer uses them.

The prompts are the models' training layouts, byte for byte (the models expect them exactly).
The score is the expectation over the six score tokens at the first generated token: a softmax
of their logprobs weighted by 1..6; when the endpoint's top logprobs miss any of the six, the
score is 3.0, Deita's fallback.
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.llm.types import Request

# The scorer models' input layouts (Deita `llama_scorer.py`); keep every byte, spaces included.
COMPLEXITY = ("You are a helpful assistant. Please identify the complexity score of the following user query. "
              "\n##Query: {instruction}  \n##Complexity: ")
QUALITY = ("You are a helpful assistant. Please identify the quality score of the Response corresponding to "
           "the Question. \n #Question#:\n{instruction}\n#Response#:\n{output} \n##Quality: ")
FALLBACK = 3.0
DIGITS = ("1", "2", "3", "4", "5", "6")


def complexity_request(query: str, top_logprobs: int) -> Request:
    return Request.completion(COMPLEXITY.format(instruction=query), max_tokens=2, temperature=0.0,
                              logprobs=top_logprobs)


def quality_request(query: str, answer: str | None, top_logprobs: int) -> Request:
    """A final unanswered turn is scored against an empty response, as Deita does."""
    return Request.completion(QUALITY.format(instruction=query, output=answer or ""), max_tokens=2,
                              temperature=0.0, logprobs=top_logprobs)


def first_token_logprobs(raw: Any) -> dict[str, float] | None:
    """{token: logprob} of the first generated token's alternatives (completions or chat form)."""
    try:
        lp = raw["choices"][0]["logprobs"]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(lp, dict):
        return None
    tops = lp.get("top_logprobs")
    if isinstance(tops, list) and tops and isinstance(tops[0], dict):       # completions
        return {str(k): float(v) for k, v in tops[0].items() if isinstance(v, (int, float))}
    content = lp.get("content")
    if isinstance(content, list) and content and isinstance(content[0], dict):  # chat
        return {str(a.get("token")): float(a["logprob"]) for a in content[0].get("top_logprobs") or ()
                if isinstance(a.get("logprob"), (int, float))}
    return None


def deita_expectation(raw: Any) -> tuple[float, str]:
    """(score, "logprobs" | "fallback"): Σ softmax(logprob of '1'..'6') × (1..6), else 3.0."""
    alts = first_token_logprobs(raw)
    if not alts:
        return FALLBACK, "fallback"
    values = []
    for digit in DIGITS:
        if digit in alts:
            values.append(alts[digit])
        else:                                # a leading-space variant stands in only when alone
            spaced = [v for k, v in alts.items() if k.strip() == digit]
            if not spaced:
                return FALLBACK, "fallback"
            values.append(max(spaced))
    if not all(math.isfinite(v) for v in values):
        return FALLBACK, "fallback"
    top = max(values)
    weights = [math.exp(v - top) for v in values]
    total = sum(weights)
    return sum((i + 1) * w for i, w in enumerate(weights)) / total, "logprobs"
