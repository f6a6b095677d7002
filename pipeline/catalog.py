"""The source catalog: one YAML file per source in `sources/` (license, default location, docs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from pipeline.errors import ConfigError
from pipeline.resources import sources_dir


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    description: str
    license: str
    formats: str = ""
    hub: str | None = None
    sample: str | None = None
    homepage: str | None = None
    parameters: dict = field(default_factory=dict)

    def sample_path(self) -> Path | None:
        return (sources_dir() / self.sample).resolve() if self.sample else None


@lru_cache(maxsize=None)
def catalog() -> dict[str, CatalogEntry]:
    entries = {}
    for path in sorted(sources_dir().glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: bad catalog entry: {e}") from None
        try:
            entry = CatalogEntry(**raw)
        except TypeError as e:
            raise ConfigError(f"{path}: bad catalog entry: {e}") from None
        entries[entry.name] = entry
    return entries


def entry(name: str) -> CatalogEntry | None:
    return catalog().get(name)
