"""Parameters shared by the list generators (Self-Instruct, Alpaca): target, rounds, seeds,
the instruction rules and the novelty threshold."""

from __future__ import annotations

from pydantic import Field

from pipeline.gen.checks import Capitalize
from pipeline.ops.base import Params


class RoundParams(Params):
    target: int = Field(100, ge=1, description="instructions to keep")
    requests_per_round: int = Field(5, ge=1, description="requests sent together in each round (the reference "
                                    "sends 5; more is faster, each round sees the tasks kept before it)")
    seed: int = Field(0, description="seeds the sampling of prompt examples")
    max_rounds: int | None = Field(None, ge=1, description="stop after this many rounds")
    patience: int = Field(10, ge=1, description="stop after this many rounds in a row keep nothing")
    pass_seeds: bool = Field(False, description="also output the seed records (else they are consumed)")


class ListGenParams(RoundParams):
    threshold: float = Field(0.7, gt=0, le=1, description="reject when ROUGE-L F1 to a pooled instruction is above")
    min_words: int = Field(3, ge=0, description="reject instructions with this many words or fewer")
    max_words: int = Field(150, ge=1, description="reject instructions with more words")
    capitalize: Capitalize = Field("first", description="first: upper-case the first letter; python: "
                                   "str.capitalize() as the reference code (lower-cases the rest); none")
