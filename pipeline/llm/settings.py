"""The `llm:` block of a recipe (and per-stage overrides): endpoint, model, limits, prices.

Secrets never live here: the key comes from the environment variable named by `api_key_env`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LLMSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None
    base_url: str | tuple[str, ...] | None = Field(
        None, description="default: $OPENAI_BASE_URL, else OpenAI; a list spreads requests over several "
                          "servers (a fleet: see pipeline/llm/fleet.py)")
    api_key_env: str = "OPENAI_API_KEY"
    mode: Literal["online", "batch"] = "online"
    endpoint: Literal["chat", "completions"] = "chat"
    concurrency: int = Field(32, ge=1, le=4096)
    rpm: float | None = Field(None, gt=0, description="requests per minute")
    tpm: float | None = Field(None, gt=0, description="tokens per minute")
    timeout: float = Field(120.0, gt=0)
    max_retries: int = Field(6, ge=0)
    max_reasks: int = Field(2, ge=0, description="re-asks for empty, refused or unparsable output")
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    price_in: float | None = Field(None, ge=0, description="USD per million input tokens (default: the shipped "
                                   "price table for well-known models, else 0)")
    price_out: float | None = Field(None, ge=0, description="USD per million output tokens (when only one of "
                                    "the two is set, the other is 0)")
    max_cost_usd: float | None = Field(None, gt=0)
    max_requests: int | None = Field(None, gt=0)
    max_wait: float = Field(60.0, gt=0, description="longest single wait before a retry (Retry-After included)")
    batch_max_requests: int = Field(50_000, ge=1, le=50_000, description="requests per batch input file")
    batch_max_bytes: int = Field(200_000_000, ge=1024, le=200_000_000, description="bytes per batch input file")
    batch_poll: float = Field(10.0, gt=0, description="first wait between batch status polls (seconds)")
    batch_poll_max: float = Field(300.0, gt=0, description="longest wait between batch status polls")
    tokenizer: str | None = Field(None, description="tokenizer folder, tokenizer.json or .gguf file for token "
                                                    "counts (default: an estimate); see pipeline/tokens.py")


def merge_llm(base: dict | None, override: dict | None) -> dict:
    """A stage's `llm:` override on top of the recipe's block (plain dicts, validated later)."""
    merged = dict(base or {})
    merged.update(override or {})
    return merged
