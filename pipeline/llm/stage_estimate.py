"""How many requests a whole LLM stage will send, from what the dry run rendered (its first round).

A dry run answers nothing, so it sees only the first round. For the ops below the rest follows
from the parameters and the method's own shape: Self-Instruct asks for a list of new tasks per
request, keeps a share of them, then classifies each kept task and writes its instances; Evol
evolves each instruction `rounds` times, answering and (optionally) checking each evolution;
single-pass ops (respond, judge, ...) send their first round and nothing else. Other ops are
counted by their first round only, and the estimate says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

KEPT_SHARE = 0.5  # assumed share of asked-for list items that survive the filters (rules, ROUGE-L)
SINGLE_PASS = {"respond", "judge", "tag", "score_deita"}


@dataclass(frozen=True)
class StageCount:
    requests: int
    basis: str      # how the count was made, in words
    exact: bool     # True when the first round is the whole stage (re-asks aside)


def kept_per_request(asked: int) -> float:
    return max(asked * KEPT_SHARE, 1.0)


def list_requests(p: Any, asked: int) -> int:
    lists = math.ceil(p.target / kept_per_request(asked))
    return min(lists, p.max_rounds * p.requests_per_round) if p.max_rounds else lists


def self_instruct(p: Any, first: int) -> StageCount:
    lists = list_requests(p, p.max_new_per_request)
    basis = (f"~{lists} list requests (target {p.target} / ({p.max_new_per_request} new tasks asked per "
             f"request x {KEPT_SHARE:g} assumed kept))")
    if not p.generate_instances:
        return StageCount(lists, basis, False)
    return StageCount(lists + 2 * p.target, f"{basis} + {p.target} classification + {p.target} instance "
                                            "requests (one each per kept task)", False)


def alpaca_instruct(p: Any, first: int) -> StageCount:
    asked = max(1, p.tasks_per_request - p.num_prompt_instructions)
    lists = list_requests(p, asked)
    return StageCount(lists, f"~{lists} list requests (target {p.target} / ({asked} new tasks asked per "
                             f"request x {KEPT_SHARE:g} assumed kept)); each task comes with its answer", False)


def evol(p: Any, first: int) -> StageCount:
    per = 3 if p.equality_check else 2
    parts = "evolve, answer, equality check" if p.equality_check else "evolve, answer"
    return StageCount(first * p.rounds * per, f"at most {first} instructions x {p.rounds} rounds x {per} requests "
                                              f"({parts}); evolutions eliminated early send fewer", False)


ESTIMATORS: dict[str, Callable[[Any, int], StageCount]] = {
    "self_instruct": self_instruct, "alpaca_instruct": alpaca_instruct, "evol_instruct": evol, "evol_code": evol}


def whole_stage(op: str, params: Any, first: int) -> StageCount:
    """The stage's request count, estimated from its first round of `first` requests."""
    if op in ESTIMATORS:
        return ESTIMATORS[op](params, first)
    if op in SINGLE_PASS:
        return StageCount(first, "the first round is the whole stage (re-asks of bad replies not counted)", True)
    return StageCount(first, f"first round only: no whole-stage model for `{op}`, later rounds not counted", False)
