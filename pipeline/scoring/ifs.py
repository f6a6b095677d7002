"""Instruction-following score (AlShikh et al. 2023): is a response an answer or a continuation?

The IFS of a set of responses is the share classified as answer-like. Two classifiers: an LLM
over an OpenAI-compatible endpoint (`ifs_*` prompts, one word back), or a small local
sequence-classification model (a folder, extra `ifd`) such as the paper's BERT classifier.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.prompts import load_prompt
from pipeline.scoring.layout import boundary_for, exchange
from pipeline.scoring.labels import parse_word
from pipeline.scoring.parse import Failure
from pipeline.record import Record

IFS_PROMPTS = ("ifs_system", "ifs_user", "ifs_reask")
LABELS = ("answer", "continuation")


def ifs_messages(rec: Record) -> list[dict]:
    """The prompt (earlier turns included, as the model saw them) and the response to classify."""
    context, instruction, response = exchange(rec)
    prompt = f"{context}\n\n[user]\n{instruction}" if context else instruction
    user = load_prompt("ifs_user").render(boundary=boundary_for(prompt, response), instruction=prompt,
                                          response=response)
    return [{"role": "system", "content": load_prompt("ifs_system").render()}, {"role": "user", "content": user}]


def parse_label(text: str | None) -> tuple[str, str] | Failure:
    """`(label, reason)` from a reply whose first line is `answer` or `continuation`."""
    return parse_word(text, LABELS, {"answer-like": "answer", "answer_like": "answer"})


class LocalClassifier:
    """A local text-classification model: `answer_label` names its answer-like class."""

    def __init__(self, folder: Path, answer_label: str, device: str = "cpu"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from transformers import pipeline
        except ImportError:
            raise ConfigError("ifs with a local classifier needs the `ifd` extra: "
                              "pip install 'instructpipe[ifd]' (torch, transformers)") from None
        self.pipe = pipeline("text-classification", model=str(folder), tokenizer=str(folder), device=device)
        labels = set(self.pipe.model.config.id2label.values())
        if answer_label not in labels:
            raise ConfigError(f"ifs: answer_label {answer_label!r} is not a label of {folder} ({sorted(labels)})")
        self.answer_label = answer_label

    def labels(self, texts: list[str]) -> list[tuple[str, float]]:
        """(label, probability of the answer class) per text, in order."""
        out = []
        for res in self.pipe(texts, truncation=True, top_k=None, batch_size=16):
            p = next((r["score"] for r in res if r["label"] == self.answer_label), 0.0)
            out.append(("answer" if p >= 0.5 else "continuation", float(p)))
        return out
