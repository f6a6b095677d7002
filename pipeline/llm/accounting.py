"""Accounting and budgets: tokens, cost and cache hits into the stage counters; budget checks.

Counters: `requests` (answered by the endpoint in this attempt), `cached` (answered from the
run's cache), `tokens_in`/`tokens_out`/`cost_usd` (of every reply the stage used, cached ones
at what they cost when paid), `retries`, `failures`, `not_sent`. Budgets count the whole
run folder's spend (every paid response in its cache), so a resumed run cannot overspend.
With `--workers`, each worker reads the spend of all of them before every request; it cannot see
the others' requests in flight, so `max_requests` may be passed by at most the stage's
concurrency (less one worker's share) and `max_cost_usd` by the cost of the requests in flight.
"""

from __future__ import annotations

from collections import Counter

from pipeline.llm.cache import ResponseCache
from pipeline.llm.pricing import prices
from pipeline.llm.settings import LLMSettings
from pipeline.llm.types import Reply


class Accountant:
    def __init__(self, counters: Counter, settings: LLMSettings, cache: ResponseCache):
        self.counters, self.settings, self.cache = counters, settings, cache
        self.inflight = 0
        self.prices = prices(settings)

    def price(self, tokens_in: int, tokens_out: int) -> float:
        return self.prices.cost(tokens_in, tokens_out)

    def used(self, reply: Reply, cost: float) -> None:
        c = self.counters
        c["cached" if reply.cached else "requests"] += 1
        c["tokens_in"] += reply.tokens_in
        c["tokens_out"] += reply.tokens_out
        c["cost_usd"] = round(c.get("cost_usd", 0.0) + cost, 9)

    def over_budget(self) -> str | None:
        """Why no further request may be sent, or None."""
        s, spent = self.settings, self.cache
        if s.max_requests is not None or s.max_cost_usd is not None:
            spent.sync_spend()
        if s.max_requests is not None and spent.spent_requests + self.inflight >= s.max_requests:
            return f"max_requests {s.max_requests} reached ({spent.spent_requests} answered in this run folder)"
        if s.max_cost_usd is not None and spent.spent_cost >= s.max_cost_usd:
            return f"max_cost_usd {s.max_cost_usd} reached (${spent.spent_cost:.4f} spent in this run folder)"
        return None
