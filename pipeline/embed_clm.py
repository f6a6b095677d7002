"""Deita's selection embedder: the last token's hidden state (last layer) of a local causal LM,
L2-normalised (`embedder: clm:FOLDER` or `clm:package:NAME`; extra `embed`).

Cosine similarities of these states sit much closer to 1 than those of a sentence-transformers
model (the states share a large common direction), so the same τ is much looser here: Deita's
τ = 0.9 with Mistral-7B states is not τ = 0.9 with all-MiniLM. Tune τ per embedder on a sample.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError


class CausalLMEmbedder:
    def __init__(self, folder: Path, batch: int, max_length: int = 2048):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise ConfigError("embedder: clm: needs the `embed` extra "
                              "(pip install 'instructpipe[embed]': torch and transformers)") from None
        self.torch, self.batch, self.max_length = torch, batch, max_length
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.tokenizer.padding_side = "right"
        self.model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True).eval()

    def embed(self, texts: list[str]) -> np.ndarray:
        from pipeline.embed import normalised

        out = []
        with self.torch.no_grad():
            for i in range(0, len(texts), self.batch):
                enc = self.tokenizer(texts[i:i + self.batch], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt")
                hidden = self.model(**enc, output_hidden_states=True).hidden_states[-1]
                last = enc["attention_mask"].sum(1) - 1            # right padding: the last real token
                out.append(hidden[self.torch.arange(hidden.size(0)), last].float().numpy())
        return normalised(np.concatenate(out)) if out else np.zeros((0, 1), np.float32)
