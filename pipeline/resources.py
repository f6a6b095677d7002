"""Where bundled files live: `prompts/`, `sources/` and `recipes/`.

In a checkout (or an editable install) they sit beside the `pipeline` package; in a wheel
they ride inside it under `pipeline/_data/` with the same relative layout, so a recipe's
relative paths (`../sources/samples/...`) resolve the same way in both.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_root() -> Path:
    """The folder holding `prompts/`, `sources/` and `recipes/`."""
    bundled = _PKG / "_data"
    if (bundled / "recipes").is_dir():
        return bundled
    return _PKG.parent


def prompts_dir() -> Path:
    return data_root() / "prompts"


def sources_dir() -> Path:
    return data_root() / "sources"


def recipes_dir() -> Path:
    return data_root() / "recipes"


def find_recipe(name_or_path: str) -> Path | None:
    """A recipe path as given, or a bundled recipe by name (`quickstart`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    for candidate in (recipes_dir() / name_or_path, recipes_dir() / f"{name_or_path}.yaml"):
        if candidate.is_file():
            return candidate
    return None
