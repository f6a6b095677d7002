"""Prompt templates: one file per prompt in `prompts/`, YAML front matter plus a Jinja body.

Front matter holds `name`, `version` and `variables`. Rendering is strict (a missing or
unexpected variable raises) and sandboxed; values are inserted as data and never rendered
again, so text like `{{ x }}` inside a record comes out byte for byte.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from pipeline.errors import ConfigError
from pipeline.resources import prompts_dir

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                            keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    variables: tuple[str, ...]
    body: str
    path: Path
    sha256: str

    @property
    def ref(self) -> str:
        """`name@version`, recorded in `meta.prompt`."""
        return f"{self.name}@{self.version}"

    def render(self, **values: Any) -> str:
        missing = [v for v in self.variables if v not in values]
        unexpected = [k for k in values if k not in self.variables]
        if missing or unexpected:
            raise ConfigError(f"{self.path}: render needs {list(self.variables)}; "
                              f"missing {missing}, unexpected {unexpected}")
        return _ENV.from_string(self.body).render(**values)


def split_front_matter(text: str, path: Path) -> tuple[dict, str]:
    if not text.startswith("---\n"):
        raise ConfigError(f"{path}:1: prompt file must start with '---' front matter")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise ConfigError(f"{path}: front matter is not closed with '---'")
    meta = yaml.safe_load(text[4:end]) or {}
    if not isinstance(meta, dict):
        raise ConfigError(f"{path}:2: front matter must be a mapping")
    return meta, text[end + 5:]


@lru_cache(maxsize=None)
def _load(path: Path, mtime_ns: int) -> Prompt:
    raw = path.read_bytes()
    meta, body = split_front_matter(raw.decode("utf-8"), path)
    for key in ("name", "version", "variables"):
        if key not in meta:
            raise ConfigError(f"{path}: front matter lacks '{key}'")
    return Prompt(str(meta["name"]), int(meta["version"]), tuple(meta["variables"] or ()),
                  body, path, hashlib.sha256(raw).hexdigest())


def load_prompt(name: str, folder: Path | None = None) -> Prompt:
    """Load `prompts/<name>.md` (or from `folder`)."""
    path = (folder or prompts_dir()) / f"{name}.md"
    if not path.is_file():
        raise ConfigError(f"prompt {name!r} not found: {path}")
    return _load(path, path.stat().st_mtime_ns)
