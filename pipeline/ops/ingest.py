"""`ingest`: read a source in its own format through its adapter into canonical records.

Reads a local file/folder (`path`) or a HF hub dataset (`hub`); writes one record per row
(some sources give several); rejects rows that cannot be mapped, with the field at fault.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterator

from pydantic import Field, model_validator

from pipeline.adapters import get_adapter
from pipeline.adapters.base import ROW_SUFFIXES, Source
from pipeline.catalog import entry
from pipeline.errors import ConfigError
from pipeline.ops.base import Item, OpSpec, Params, StageContext
from pipeline.record import Record


class IngestParams(Params):
    source: str = Field(description="adapter name (see `instructpipe sources`)")
    path: str | None = Field(None, description="local file or folder")
    hub: str | None = Field(None, description="HF hub dataset id (read with `datasets`, streaming)")
    split: str = "train"
    config: str | None = None
    limit: int | None = Field(None, ge=1, description="take at most this many rows")
    seed: int | None = Field(None, description="with limit: a seeded random sample instead of the first rows")
    # How long to wait is not what is read: kept out of the fingerprint (model_dump) on purpose.
    hub_timeout: float = Field(60.0, gt=0, exclude=True,
                               description="with hub: seconds the hub may stay silent before failing")
    lenient: bool = Field(False, description="send unparsable lines to rejected instead of failing")
    label: str | None = Field(None, description="meta.source to record (default: the source name)")
    license: str | None = Field(None, description="license to record (default: the catalog's)")
    lang: str | None = Field(None, description="meta.lang for records whose source gives none")

    @model_validator(mode="after")
    def _one_location(self) -> "IngestParams":
        if self.path and self.hub:
            raise ValueError("give either path or hub, not both")
        return self


@lru_cache(maxsize=None)
def _model(source: str) -> type[Params]:
    adapter = get_adapter(source)
    return type(f"Ingest_{source}", (adapter.Params, IngestParams), {"__module__": __name__})


def params_for(raw: dict) -> type[Params]:
    source = raw.get("source")
    if source is None:
        raise ConfigError("source: required (see `instructpipe sources`)")
    return _model(source)


def run(ctx: StageContext, inputs: list, p: IngestParams) -> Iterator[Item]:
    adapter = get_adapter(p.source)
    cat = entry(p.source)
    path, hub = p.path, p.hub
    if not path and not hub:
        if cat and cat.hub:
            hub = cat.hub
        else:
            raise ConfigError(f"ingest {p.source}: give `path` or `hub`")
    src = Source(Path(path) if path else None, hub, p.split, p.config, p.lenient, ctx,
                 p.label or p.source, p.limit, p.seed, p.hub_timeout)
    license_ = p.license or (cat.license if cat else "unknown")
    for item in adapter.read(src, p, ctx):
        if isinstance(item, Record):
            meta = item.meta
            meta.setdefault("license", license_)
            meta["stage"] = ctx.stage_id
            if p.lang and "lang" not in meta:
                meta["lang"] = p.lang
        yield item


# adapters that map each row on its own (no state across rows or files, no templates drawn at random),
# so a folder of their files may be read a file per shard and give the same records and ledger
PER_ROW = {"alpaca", "coig", "dolly", "messages", "sharegpt", "unnatural", "self_instruct_seeds"}


def input_files(p: IngestParams, recipe_dir: Path | None) -> list[Path] | None:
    """A local folder's files, in the order one process reads them, when each may be a shard:
    a per-row adapter and no `limit` (a sample is drawn over the whole source)."""
    if p.source not in PER_ROW or not p.path or p.hub or p.limit is not None:
        return None
    path = Path(p.path)
    if not path.is_dir():
        return None
    return sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in ROW_SUFFIXES)


SPEC = OpSpec(
    name="ingest", fn=run, params=IngestParams, params_for=params_for, version=1, min_inputs=0,
    input_files=input_files,
    max_inputs=0, path_params=("path", "templates", "tasks_file", "exclude_tasks_file"),
    doc="Read a source (alpaca, messages, ...) from a file, folder or hub id into records.",
)
