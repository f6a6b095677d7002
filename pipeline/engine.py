"""The recipe's `engine:` block: where stages run (never part of a fingerprint: same files anywhere)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EngineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["local", "ray"] = Field("local", description="local processes, or Ray tasks")
    workers: int | None = Field(None, ge=1, le=4096, description="workers for per-record stages (default 1)")
    address: str | None = Field(None, description="Ray cluster address (`auto`, HOST:PORT); none: a local Ray")
    shard_size: int | None = Field(None, ge=1, description="records per shard (default: about 8 shards "
                                                         "per worker, at least 1000 records)")
