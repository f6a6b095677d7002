"""Pure parsers of scorer replies: a score on the first line, a digit's expected value from
logprobs, and a strict JSON list of tags. Each returns its value or a `Failure` (code, message).

Score grammar (first non-blank line, surrounding `*`, `_`, backticks, quotes and a final `.`
removed): an optional `Score:` label, a decimal number, an optional `/<top of the scale>`.
So `4.5`, `**4**` and `Score: 4/5` parse; `9/10`, `four`, `4 - good` and JSON do not, and a
number outside the scale is `out_of_range`. JSON gets one repair only: a single fence around
the whole reply (```` ```json ... ``` ````) is removed; anything else must be strict JSON.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from pipeline.llm.parsing import OutputError, parse_json as strict_json


@dataclass(frozen=True)
class Failure:
    """Why a reply could not be used: `code` (empty, unparsable, out_of_range, bad_json,
    bad_schema, ...) and a short message that is safe to show the model in a re-ask."""

    code: str
    message: str


_SCORE = re.compile(r"^(?:score\s*[:=]?\s*)?(-?\d+(?:\.\d+)?)(?:\s*/\s*(\d+(?:\.\d+)?))?$", re.I)
DECOR = "*_`\"' \t"


def parse_score(text: str | None, low: float, high: float) -> tuple[float, str] | Failure:
    """`(score, explanation)` from a reply whose first line is the score, the rest the explanation."""
    if text is None or not text.strip():
        return Failure("empty", "the reply was empty")
    lines = text.strip().splitlines()
    first = lines[0].strip().strip(DECOR).rstrip(".").strip(DECOR)
    m = _SCORE.match(first)
    if not m:
        return Failure("unparsable", f"the first line is not a number from {_num(low)} to {_num(high)}")
    value = float(m.group(1))
    if m.group(2) is not None and float(m.group(2)) != high:
        return Failure("unparsable", f"the score was given on another scale, not {_num(low)} to {_num(high)}")
    if not low <= value <= high:
        return Failure("out_of_range", f"the score {_num(value)} is outside {_num(low)} to {_num(high)}")
    return value, "\n".join(lines[1:]).strip()


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def digit_expectation(raw: Any, low: int, high: int) -> float | None:
    """Expected score over the probabilities of the tokens `low`..`high` at the first token of
    the answer (Deita's scorer rule), from an OpenAI-style chat response with `logprobs`.

    The probabilities of the digit tokens among the first token's `top_logprobs` (a leading
    space ignored; variants of one digit summed) are renormalised to sum to 1. Returns None
    when the response has no logprobs or its first non-blank token is not such a digit.
    """
    try:
        content = raw["choices"][0]["logprobs"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    digits = {str(d): d for d in range(low, high + 1)}
    for tok in content or ():
        text = str(tok.get("token", "")).strip() if isinstance(tok, dict) else ""
        if not text:
            continue
        if text not in digits:
            return None
        mass: dict[int, float] = {}
        for alt in tok.get("top_logprobs") or [{"token": text, "logprob": tok.get("logprob", 0.0)}]:
            d = digits.get(str(alt.get("token", "")).strip())
            lp = alt.get("logprob")
            if d is not None and isinstance(lp, (int, float)) and math.isfinite(lp):
                mass[d] = mass.get(d, 0.0) + math.exp(lp)
        total = sum(mass.values())
        if total <= 0:
            return None
        return sum(d * p for d, p in mass.items()) / total
    return None


def parse_json(text: str | None) -> Any | Failure:
    """Strict JSON after removing one fence that wraps the whole reply (the LLM layer's rule)."""
    try:
        return strict_json(text)
    except OutputError as e:
        message = "the reply was empty" if e.reason == "empty" else f"the reply is not valid JSON ({e.detail})"
        return Failure(e.reason, message)


def parse_tags(text: str | None) -> list[tuple[str, str]] | Failure:
    """InsTag reply: a non-empty JSON list of `{"tag": text, "explanation": text}` objects
    (`explanation` optional, no other keys). Returns `[(tag, explanation), ...]`."""
    value = parse_json(text)
    if isinstance(value, Failure):
        return value
    if not isinstance(value, list):
        return Failure("bad_schema", f"expected a JSON list, got {_kind(value)}")
    if not value:
        return Failure("bad_schema", "the list of tags is empty")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            return Failure("bad_schema", f"item {i} is {_kind(item)}, not an object")
        extra = sorted(set(item) - {"tag", "explanation"})
        if extra:
            return Failure("bad_schema", f"item {i} has unknown keys {extra}")
        tag, why = item.get("tag"), item.get("explanation", "")
        if not isinstance(tag, str) or not tag.strip():
            return Failure("bad_schema", f"item {i} has no text 'tag'")
        if not isinstance(why, str):
            return Failure("bad_schema", f"item {i}: 'explanation' is {_kind(why)}, not text")
        out.append((tag.strip(), why.strip()))
    return out


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
