"""Prices per million tokens: the recipe's `price_in` / `price_out`, else the shipped, dated table.

The table (`prices.json`) lists well-known models at their providers' list prices on one date. A
snapshot name (`gpt-4o-2024-08-06`, `gpt-3.5-turbo-0125`, `-latest`, `-preview`) takes the price
of its listed name, and a provider prefix (`openai/gpt-4o-mini`) is ignored. The Batch API costs
half of the table price. A model neither priced in the recipe nor listed costs 0, and the dry run
says so. Run accounting and `max_cost_usd` use the same prices.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).with_name("prices.json")
BATCH_DISCOUNT = 0.5
# what may follow a listed name: a date or version stamp, -latest or -preview (not another model)
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4}|latest|preview)")


@dataclass(frozen=True)
class Prices:
    price_in: float
    price_out: float
    source: str        # "recipe", "table YYYY-MM-DD" (with "batch half price"), or "unknown"

    def cost(self, tokens_in: float, tokens_out: float) -> float:
        return (tokens_in * self.price_in + tokens_out * self.price_out) / 1_000_000


@lru_cache(maxsize=1)
def table() -> dict:
    return json.loads(TABLE.read_text(encoding="utf-8"))


def listed(model: str | None) -> tuple[float, float] | None:
    """The table's (input, output) price of `model`, by exact name or longest listed prefix."""
    if not model:
        return None
    name = model.rsplit("/", 1)[-1].lower()
    models = table()["models"]
    best = max((m for m in models if name == m or (name.startswith(m) and _SNAPSHOT.fullmatch(name[len(m):]))),
               key=len, default=None)
    return tuple(models[best]) if best else None


def prices(settings: Any) -> Prices:
    """What one token costs for these settings (see the module docstring for the order)."""
    if settings.price_in is not None or settings.price_out is not None:
        return Prices(settings.price_in or 0.0, settings.price_out or 0.0, "recipe")
    found = listed(settings.model)
    if found is None:
        return Prices(0.0, 0.0, "unknown")
    scale, note = (BATCH_DISCOUNT, ", batch half price") if settings.mode == "batch" else (1.0, "")
    return Prices(found[0] * scale, found[1] * scale, f"table {table()['as_of']}{note}")
