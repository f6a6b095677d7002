"""ROUGE-L novelty filtering (Self-Instruct, Alpaca): rouge_score's decisions at rapidfuzz speed."""

from pipeline.novelty.pool import NoveltyPool, Verdict
from pipeline.novelty.score import reference_f1, rouge_l
from pipeline.novelty.tokens import TOKENIZERS, auto_tokens, rouge_tokens, script_tokens, tokenize

__all__ = ["NoveltyPool", "Verdict", "reference_f1", "rouge_l", "tokenize", "rouge_tokens",
           "script_tokens", "auto_tokens", "TOKENIZERS"]
