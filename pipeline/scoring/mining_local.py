"""Instruction Mining's local-model indicators (extra `ifd`): a reward model's score and perplexity."""

from __future__ import annotations

import math
import os
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.ops.ifd import Scorer, prompt_text, split
from pipeline.record import Record


class RewardModel:
    """A sequence-classification reward model read from a local folder (Instruction Mining used
    OpenAssistant's DeBERTa reward model): the logit for (instruction, response)."""

    def __init__(self, folder: Path, device: str):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError:
            raise ConfigError("a reward_model needs the `ifd` extra: pip install 'instructpipe[ifd]'") from None
        self.torch, self.device = torch, device
        self.tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            str(folder), local_files_only=True).to(device).eval()

    def score(self, instruction: str, response: str) -> float:
        enc = self.tok(instruction, response, return_tensors="pt", truncation=True, max_length=512).to(self.device)
        with self.torch.no_grad():
            return float(self.model(**enc).logits[0][0])


def perplexity(scorer: Scorer, rec: Record, max_length: int = 512) -> float:
    """exp of the mean loss of the response's tokens after its Alpaca-style prompt."""
    instruction, extra, answer = split(rec)
    prompt = scorer.ids(prompt_text("alpaca", instruction, extra), True)[-max_length // 2:]
    ans = scorer.ids(answer, False)[:max_length - len(prompt)]
    return math.exp(scorer.loss(prompt, ans)) if ans else math.nan
