"""Token buckets on requests and tokens per minute, tightened by `x-ratelimit-*` response headers.

Without configured limits and without such headers (a local server) `acquire` returns at once.
Header values are trusted only to tighten: a bucket never grows past what was configured.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Awaitable, Callable, Mapping

_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?"
                          r"(?:(\d+(?:\.\d+)?)ms)?$")


def parse_duration(value: str | None) -> float | None:
    """Seconds of `6m0s`, `1s`, `12ms`, `1h2m3.5s` or a plain number; None when absent or invalid."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        m = _DURATION_RE.match(text)
        if not m or not any(m.groups()):
            return None
        h, mi, s, ms = (float(g) if g else 0.0 for g in m.groups())
        return h * 3600 + mi * 60 + s + ms / 1000
    return number if number >= 0 and number == number and number != float("inf") else None


def parse_count(value: str | None) -> int | None:
    """A non-negative integer header value, else None (Azure sends -1 for 'unknown')."""
    try:
        n = int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):
        return None
    return n if n >= 0 else None


class Bucket:
    """`per_minute` units, refilled continuously; starts full."""

    def __init__(self, per_minute: float, now: float):
        self.capacity = float(per_minute)
        self.level = self.capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.capacity / 60.0)
        self.stamp = now

    def wait_for(self, amount: float, now: float) -> float:
        self._refill(now)
        amount = min(amount, self.capacity)
        return 0.0 if self.level >= amount else (amount - self.level) * 60.0 / self.capacity

    def take(self, amount: float) -> None:
        self.level -= min(amount, self.capacity)


class RateLimiter:
    """`acquire` waits until one request of `tokens` fits both buckets. `clock` and `sleep` are
    injectable so that tests run time virtually (an injected sleep may carry its `clock`)."""

    def __init__(self, rpm: float | None, tpm: float | None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] | None = None):
        self.clock = clock or getattr(sleep, "clock", None) or time.monotonic
        self.requests = Bucket(rpm, self.clock()) if rpm else None
        self.tokens = Bucket(tpm, self.clock()) if tpm else None
        self.paused_until = 0.0
        self.sleep = sleep

    async def acquire(self, tokens: int) -> None:
        while True:
            now = self.clock()
            if self.requests is None and self.tokens is None and now >= self.paused_until:
                return
            wait = max(self.paused_until - now,
                       self.requests.wait_for(1, now) if self.requests else 0.0,
                       self.tokens.wait_for(tokens, now) if self.tokens else 0.0)
            if wait <= 0:
                if self.requests:
                    self.requests.take(1)
                if self.tokens:
                    self.tokens.take(tokens)
                return
            await self.sleep(wait)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    def observe(self, headers: Mapping[str, str]) -> float | None:
        """Tighten from `x-ratelimit-*` headers; return the reset wait when a quota is used up."""
        reset = None
        for kind in ("requests", "tokens"):
            limit = parse_count(headers.get(f"x-ratelimit-limit-{kind}"))
            remaining = parse_count(headers.get(f"x-ratelimit-remaining-{kind}"))
            if limit is None and remaining is None:
                continue
            bucket = getattr(self, kind)
            if limit:
                if bucket is None or bucket.capacity > limit:
                    bucket = Bucket(limit, self.clock())
                    setattr(self, kind, bucket)
            if bucket is not None and remaining is not None:
                bucket.level = min(bucket.level, float(remaining))
            if remaining == 0:
                wait = parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
                if wait:
                    reset = max(reset or 0.0, wait)
        return reset
