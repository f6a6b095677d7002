"""The adapter table: one module per source format, listed explicitly."""

from __future__ import annotations

import importlib
from types import ModuleType

from pipeline.errors import ConfigError

ADAPTERS = ("alpaca", "messages", "self_instruct_seeds", "sni", "flan", "promptsource", "unnatural",
            "oig", "dolly", "oasst", "sharegpt", "coig")


def get_adapter(name: object) -> ModuleType:
    if not isinstance(name, str) or name not in ADAPTERS:
        import difflib

        close = difflib.get_close_matches(str(name), ADAPTERS, n=1)
        hint = f"; did you mean {close[0]}?" if close else f" (known: {', '.join(ADAPTERS)})"
        raise ConfigError(f"unknown source {name!r}{hint}")
    return importlib.import_module(f"pipeline.adapters.{name}")
