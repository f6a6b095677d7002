"""A GGUF model file's vocabulary as a `tokenizers.Tokenizer`, for token counts (`llm.tokenizer`).

BPE vocabularies (`tokenizer.ggml.model: gpt2`) get the byte-level BPE with the file's merges and
the pre-tokenizer split that llama.cpp uses for the file's `tokenizer.ggml.pre` (GPT-2, Llama 3,
Qwen2, SmolLM/StarCoder; others fall back to GPT-2's). SentencePiece vocabularies (`llama`) get
a BPE whose merges are derived from the pieces' scores, the way `transformers` converts them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")
# llama.cpp's pre-tokenizer names -> the regex splits applied in order
SPLITS = {"llama-bpe": [LLAMA3], "llama3": [LLAMA3], "llama-v3": [LLAMA3], "falcon3": [LLAMA3],
          "dbrx": [LLAMA3], "smaug-bpe": [LLAMA3], "qwen2": [QWEN2], "stablelm2": [QWEN2],
          "smollm": [r"\p{N}", GPT2], "starcoder": [r"\p{N}", GPT2], "refact": [r"\p{N}", GPT2],
          "command-r": [r"\p{N}", GPT2], "codeshell": [r"\p{N}", GPT2]}


def _strings(field: Any) -> list[str]:
    return [bytes(field.parts[i]).decode("utf-8", "replace") for i in field.data]


def _text(field: Any) -> str:
    return bytes(field.parts[-1]).decode("utf-8", "replace")


def from_gguf(path: Path, gguf: Any, tokenizers: Any) -> Any:
    try:
        fields = gguf.GGUFReader(str(path)).fields
    except Exception as e:
        raise ConfigError(f"llm.tokenizer: {path}: not a readable GGUF file ({e})") from None
    if "tokenizer.ggml.tokens" not in fields or "tokenizer.ggml.model" not in fields:
        raise ConfigError(f"llm.tokenizer: {path}: the GGUF file holds no tokenizer vocabulary")
    model = _text(fields["tokenizer.ggml.model"])
    tokens = _strings(fields["tokenizer.ggml.tokens"])
    if model == "gpt2":
        merges = _strings(fields["tokenizer.ggml.merges"]) if "tokenizer.ggml.merges" in fields else []
        pre = _text(fields["tokenizer.ggml.pre"]) if "tokenizer.ggml.pre" in fields else "gpt-2"
        return byte_level(tokens, [tuple(m.split(" ", 1)) for m in merges], SPLITS.get(pre, [GPT2]), tokenizers)
    if model == "llama":
        field = fields.get("tokenizer.ggml.scores")
        scores = [float(field.parts[i][0]) for i in field.data] if field is not None else [0.0] * len(tokens)
        return sentencepiece(tokens, scores, tokenizers)
    raise ConfigError(f"llm.tokenizer: {path}: GGUF tokenizer model {model!r} is not supported (gpt2, llama)")


def byte_level(tokens: list[str], merges: list[tuple], splits: list[str], tokenizers: Any) -> Any:
    from tokenizers import Regex, decoders, models, pre_tokenizers

    tok = tokenizers.Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, merges))
    steps = [pre_tokenizers.Split(Regex(rx), behavior="isolated") for rx in splits]
    tok.pre_tokenizer = pre_tokenizers.Sequence(steps + [pre_tokenizers.ByteLevel(add_prefix_space=False,
                                                                                   use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    return tok


def sentencepiece(tokens: list[str], scores: list[float], tokenizers: Any) -> Any:
    """SentencePiece BPE: a merge for every piece that splits into two pieces, ranked by score."""
    from tokenizers import models, normalizers

    vocab = {t: i for i, t in enumerate(tokens)}
    merges = []
    for piece, score in zip(tokens, scores):
        local = [(piece[:i], piece[i:], score) for i in range(1, len(piece))
                 if piece[:i] in vocab and piece[i:] in vocab]
        merges += sorted(local, key=lambda m: (vocab[m[0]], vocab[m[1]]))
    merges.sort(key=lambda m: (m[2], len(m[0]), len(m[1])), reverse=True)
    unk = "<unk>" if "<unk>" in vocab else None
    tok = tokenizers.Tokenizer(models.BPE(vocab, [(a, b) for a, b, _ in merges], unk_token=unk, fuse_unk=True,
                                          byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    return tok
