"""Several OpenAI-compatible servers behind one stage (a vLLM fleet): which one gets a request.

`base_url` may be a list. Each attempt goes to the live server with the fewest requests in
flight (ties in turn), which gives a fast server more work than a slow one. A server that
refuses a connection, or fails twice in a row (reset, timeout, 5xx, a malformed body), is taken
out of rotation for a cool-down (30 s, doubling while it keeps failing, at most 8 minutes); the
attempt moves on to another live server at once, so a dead server costs a request at most one
attempt of its retry budget. After the cool-down the server is on probation: one request at a
time until one is answered. 4xx answers are not the server's fault (429 backs off as with one
server). When every server is out, attempts go to the one due back first and the usual retries
and waits apply: with one server this is exactly the single-endpoint behaviour.

A fleet of one server is the plain single-endpoint case; one code path serves both.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from pipeline.errors import ConfigError
from pipeline.llm.retry import Verdict
from pipeline.llm.secrets import public_url, redact, resolve_base_url

log = logging.getLogger("pipeline.llm")
COOL_DOWN, MAX_COOL_DOWN = 30.0, 480.0
FAILS_TO_TAKE_OUT = 2     # a lone timeout or 5xx happens to healthy servers too
SERVER_FAULTS = {"connection_error", "timeout", "server_error", "malformed_response"}
# Servers the run's endpoint check found down (public URL -> when), left out from the start; a
# `--workers` process inherits this at fork, a Ray worker finds out with its first attempt.
LEFT_OUT: dict[str, float] = {}


def server_urls(configured: str | tuple[str, ...] | list[str] | None) -> list[str]:
    """The servers of a `base_url` setting (a string, a list, or None for the default)."""
    if isinstance(configured, (tuple, list)):
        return [resolve_base_url(url) for url in configured]
    return [resolve_base_url(configured)]


def check_servers(where: str, settings: Any) -> None:
    """A server list must name servers, each once; batch jobs live on one endpoint."""
    configured = settings.base_url
    if not isinstance(configured, (tuple, list)):
        return
    if not configured:
        raise ConfigError(f"{where}: base_url: an empty list: name at least one server (or leave base_url "
                          "out for $OPENAI_BASE_URL)")
    seen: set[str] = set()
    for url in configured:
        if public_url(url) in seen:
            raise ConfigError(f"{where}: base_url: the server {public_url(url)} is listed twice")
        seen.add(public_url(url))
    if settings.mode == "batch" and len(configured) > 1:
        raise ConfigError(f"{where}: base_url: mode batch sends its jobs to one endpoint; give one server, "
                          "not a list")


def cache_endpoints(urls: list[str]) -> list[str]:
    """The endpoints a fleet's cache keys are made of: its public URLs, sorted (so the list's order
    does not matter); answers are stored under the first and found under any (see cache.py)."""
    return sorted({public_url(url) for url in urls})


@dataclass(eq=False)
class Server:
    url: str                  # as configured: only the SDK client gets it, credentials removed
    public: str
    inflight: int = 0
    failures: int = 0         # failed attempts in a row
    refused: int = 0          # refused connections in a row
    outs: int = 0             # times taken out without an answer between (the cool-down doubles)
    back_at: float = 0.0      # when it returns to rotation (time.monotonic)
    probation: bool = False   # back from a cool-down: one request at a time until one is answered
    lanes: list = field(default_factory=list)   # SDK clients (see transport.lanes)
    load: list = field(default_factory=list)


class Fleet:
    def __init__(self, stage_id: str, urls: list[str], clock: Callable[[], float] = time.monotonic):
        self.stage_id, self.clock = stage_id, clock
        self.servers = [Server(url, public_url(url)) for url in urls]
        self.turn = 0
        if len(self.servers) > 1:
            for server in self.servers:
                if server.public in LEFT_OUT:  # the endpoint check said so (and warned)
                    server.outs, server.probation = 1, True
                    server.back_at = LEFT_OUT[server.public] + COOL_DOWN

    @property
    def names(self) -> str:
        return ", ".join(s.public for s in self.servers)

    def live(self, server: Server, now: float) -> bool:
        return server.back_at <= now and not (server.probation and server.inflight)

    def pick(self, tried: list[Server]) -> Server | None:
        """The server for the next attempt of a request that already tried `tried` (None: every
        live server failed it; the caller waits and retries)."""
        now, n = self.clock(), len(self.servers)
        ready = [(s.inflight, (i - self.turn) % n, i) for i, s in enumerate(self.servers)
                 if s not in tried and self.live(s, now)]
        if ready:
            index = min(ready)[2]
        elif tried:
            return None
        else:  # every server is out: the one due back first, under the usual retry policy
            index = min(range(n), key=lambda i: self.servers[i].back_at)
        self.turn = (index + 1) % n
        return self.servers[index]

    def answered(self, server: Server) -> None:
        server.failures = server.refused = 0
        if server.probation:
            server.probation, server.outs = False, 0
            log.info("[%s] server %s is back in rotation", self.stage_id, server.public)

    def failed(self, server: Server, verdict: Verdict) -> bool:
        """Count a failed attempt; True when the server is to blame (another one may be tried)."""
        server.refused = server.refused + 1 if verdict.refused else 0
        if verdict.code not in SERVER_FAULTS:
            return False
        server.failures += 1
        now = self.clock()
        if len(self.servers) > 1 and server.back_at <= now and \
                (verdict.refused or server.probation or server.failures >= FAILS_TO_TAKE_OUT):
            self.take_out(server, now, verdict.message)
        return True

    def take_out(self, server: Server, now: float, why: str) -> None:
        server.outs += 1
        pause = min(COOL_DOWN * 2 ** (server.outs - 1), MAX_COOL_DOWN)
        server.back_at, server.probation, server.failures = now + pause, True, 0
        left = sum(1 for s in self.servers if s.back_at <= now)
        log.warning("%s", redact(f"[{self.stage_id}] server {server.public} taken out of rotation for "
                                 f"{pause:g} s ({why}); {left} of {len(self.servers)} servers in rotation"))

    def refused_in_a_row(self) -> int:
        """Refused connections in a row that every server has had (0 once any of them answers)."""
        return min(s.refused for s in self.servers)
