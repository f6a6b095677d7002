"""Orca explanation tuning and chain-of-thought for responses: a pool of 16 system messages
chosen by the record's task family, and the step-by-step wrapper for a request's user turn.

Families follow Orca's assignment of system messages to FLAN-v2 sub-collections: CoT,
NIV2 (Super-NaturalInstructions), T0, Flan2021 multiple-choice (templates with options) and
Flan2021 otherwise; other records use general-purpose messages. The choice is seeded per
record id, so it does not depend on record order.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

from pipeline.prompts import load_prompt
from pipeline.record import Record

SYSTEM_PROMPT, COT_PROMPT = "orca_system", "respond_cot"
POOLS: dict[str, tuple[int, ...]] = {
    "cot": (6, 11, 16),
    "niv2": (1, 2, 5, 7, 9, 12, 13, 14, 15),
    "t0": (1, 2, 3, 5, 7),
    "flan_mc": (8, 10),
    "flan": (3, 4, 7),
    "other": (1, 2, 3, 4, 5, 7),
}
_SECTION = re.compile(r"(?m)^## (\d+)[ \t]*\n")
_SNI_TASK = re.compile(r"^task\d+_")


@lru_cache(maxsize=4)
def _messages(sha: str) -> dict[int, str]:
    body = load_prompt(SYSTEM_PROMPT).render()
    parts = _SECTION.split(body)
    return {int(num): text.strip() for num, text in zip(parts[1::2], parts[2::2])}


def system_messages() -> dict[int, str]:
    """The 16 system messages by number (1 is empty)."""
    return _messages(load_prompt(SYSTEM_PROMPT).sha256)


def task_family(meta: dict) -> str:
    """`cot`, `niv2`, `t0`, `flan_mc`, `flan` or `other`, from `task_source`/`template_type`
    (FLAN adapter) or an SNI source or task name."""
    source = str(meta.get("task_source") or "").lower()
    template = str(meta.get("template_type") or "").lower()
    if source.startswith("cot") or template == "cot":
        return "cot"
    if source.startswith("niv2") or source.startswith("sni"):
        return "niv2"
    if source.startswith("t0"):
        return "t0"
    if source.startswith("flan"):
        return "flan_mc" if template.endswith("_opt") else "flan"
    label = str(meta.get("source") or "").lower()
    if label.startswith("sni") or "natural_instructions" in label or _SNI_TASK.match(str(meta.get("task") or "")):
        return "niv2"
    return "other"


def choose_system(rec: Record, seed: int = 0, pools: dict[str, tuple[int, ...]] | None = None) -> tuple[int, str]:
    """(number, text) of the system message for `rec`; text '' for message 1 (no system turn)."""
    family = task_family(rec.meta)
    pool = (pools or POOLS).get(family) or POOLS[family]
    number = random.Random(f"{seed}:{rec.id}").choice(pool)
    return number, system_messages()[number]


def orca_system(rec: Record, seed: int = 0) -> tuple[str | None, dict]:
    """The Orca system message for `rec` (None for the empty message 1) and meta naming it."""
    number, text = choose_system(rec, seed)
    return text or None, {"system_message": number, "task_family": task_family(rec.meta)}


def with_cot(messages: list[dict]) -> list[dict]:
    """`messages` with the last user turn asking for step-by-step reasoning."""
    last = max(i for i, m in enumerate(messages) if m["role"] == "user")
    return [dict(m, content=cot_user_turn(m["content"])) if i == last else m for i, m in enumerate(messages)]


def cot_user_turn(instruction: str) -> str:
    """The user turn of a chain-of-thought request: the instruction with a step-by-step request."""
    return load_prompt(COT_PROMPT).render(instruction=instruction.strip()).rstrip()
