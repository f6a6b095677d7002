"""Online transport: pooled `AsyncOpenAI` clients per server of a stage, rate limits and tenacity retries.

The HTTP pool is sized to the concurrency (the SDK's default keeps only 100 connections
alive), the SDK's own retries are off so attempts never multiply, and responses are read raw
(`cast_to=httpx2.Response`) to skip model parsing we do not need. Connections are spread
over lanes of at most LANE_SIZE (see `lanes`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Awaitable, Callable

import httpx2
import openai
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from pipeline.errors import LLMError
from pipeline.llm.canonical import Prepared
from pipeline.llm.fleet import SERVER_FAULTS, Fleet, Server
from pipeline.llm.ratelimit import RateLimiter
from pipeline.llm.replies import decode_response
from pipeline.llm.retry import (FATAL, GIVEUP, REJECT, RequestFailed, RequestRejected, Retryable, backoff,
                                classify)
from pipeline.llm.secrets import api_key, install_log_filter, public_url, redact, sdk_url
from pipeline.llm.settings import LLMSettings

log = logging.getLogger("pipeline.llm")
LANE_SIZE = 16
REFUSED_IN_A_ROW = 3  # refused connection attempts with no answer between them: nothing listens
Sleep = Callable[[float], Awaitable[None]]


def fatal_message(code: str, message: str, settings: LLMSettings, base_url: str) -> str:
    env = settings.api_key_env
    if code == "quota":
        return f"quota exhausted (insufficient_quota): {message}; add credit to the account of ${env} " \
               "and run the same command again to resume"
    if code == "auth":
        return f"the endpoint {public_url(base_url)} refused the API key from ${env} ({message}); " \
               f"check that variable (or api_key_env in the recipe)"
    return f"{message} at {public_url(base_url)}: check the model name and base_url"


class OnlineTransport:
    """Sends prepared requests; returns `(body text, decoded body)` or raises a retry outcome.

    `base_url` may name several servers (a fleet): each attempt goes where `Fleet.pick` says."""

    bounded = True

    def __init__(self, stage_id: str, settings: LLMSettings, base_url: str | list[str], counters: Counter,
                 sleep: Sleep | None = None):
        self.stage_id, self.settings, self.counters = stage_id, settings, counters
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.base_url = urls[0]
        self.fleet = Fleet(stage_id, urls)
        self._tls = None  # one CA load for every lane of every server (each load costs ~20 ms)
        self.sleep = sleep or asyncio.sleep
        self.limiter = RateLimiter(settings.rpm, settings.tpm, self.sleep)
        self._retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.max_retries + 1), retry=retry_if_exception_type(Retryable),
            wait=self._wait, sleep=self.sleep, before_sleep=self._before_sleep, reraise=True)

    @staticmethod
    def task_limit(concurrency: int) -> int:
        """Tasks kept running: twice the pool, so a slot never waits for the consumer."""
        return 2 * concurrency

    def poke(self) -> None:
        """Nothing to do when a task ends (batch mode flushes rounds here)."""

    def lanes(self, server: Server | None = None) -> list[openai.AsyncOpenAI]:
        """A server's SDK clients (the first server's by default), each with its own small HTTP pool.

        httpcore scans (and polls) every pooled connection whenever a request starts or ends, so
        one pool of N connections costs O(N) per request; lanes of LANE_SIZE keep it flat. Each
        server gets the stage's whole concurrency: when the others are out, it carries it all.
        """
        server = server or self.fleet.servers[0]
        if not server.lanes:
            install_log_filter()
            key = api_key(self.settings.api_key_env, server.url)
            timeout = httpx2.Timeout(self.settings.timeout, connect=min(10.0, self.settings.timeout))
            n = self.settings.concurrency
            count = -(-n // LANE_SIZE)
            if self._tls is None:
                self._tls = httpx2.create_ssl_context()
            for i in range(count):
                size = n // count + (1 if i < n % count else 0)
                http = httpx2.AsyncClient(limits=httpx2.Limits(max_connections=size, max_keepalive_connections=size,
                                                               keepalive_expiry=60), timeout=timeout, verify=self._tls)
                server.lanes.append(openai.AsyncOpenAI(api_key=key, base_url=sdk_url(server.url), max_retries=0,
                                                       timeout=timeout, http_client=http))
            server.load = [0] * count
        return server.lanes

    async def send(self, prep: Prepared) -> tuple[str, dict]:
        await self.limiter.acquire(prep.estimate)
        try:
            return await self._retrying.copy()(self._once, prep)
        except Retryable as e:
            raise RequestFailed(e.verdict.code, f"gave up after {self.settings.max_retries + 1} "
                                                f"attempts: {e.verdict.message}") from None

    async def _once(self, prep: Prepared) -> tuple[str, dict]:
        """One attempt of the retry policy: a server, and when it is to blame, each other live one."""
        tried: list[Server] = []
        failure: Retryable | None = None
        while True:
            server = self.fleet.pick(tried)
            if server is None and failure is not None:
                raise failure
            tried.append(server)
            try:
                return await self._attempt(server, prep)
            except Retryable as e:
                if e.verdict.code not in SERVER_FAULTS:
                    raise
                failure = e

    async def _attempt(self, server: Server, prep: Prepared) -> tuple[str, dict]:
        lanes, load = self.lanes(server), server.load
        lane = min(range(len(lanes)), key=load.__getitem__)
        load[lane] += 1
        server.inflight += 1
        try:
            resp = await lanes[lane].post(prep.path, body=prep.body, cast_to=httpx2.Response,
                                          options={"headers": {"X-Client-Request-Id": prep.key}})
            self.fleet.answered(server)
            self.limiter.observe(resp.headers)
            text = resp.text
            return text, decode_response(text)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # every failure is classified; unknown kinds re-raise
            verdict = classify(e)
            self.fleet.failed(server, verdict)
            self.check_refused(verdict)
            response = getattr(e, "response", None)
            headers = response.headers if response is not None else {}
            if headers:
                reset = self.limiter.observe(headers)
                if reset and verdict.retry_after is None and verdict.code == "rate_limited":
                    self.limiter.pause(min(reset, self.settings.max_wait))
            if verdict.action == FATAL:
                raise LLMError(fatal_message(verdict.code, verdict.message, self.settings, server.url)) from None
            if verdict.action == REJECT:
                raise RequestRejected(verdict) from None
            if verdict.action == GIVEUP:
                raise RequestFailed(verdict.code, verdict.message) from None
            raise Retryable(verdict, headers.get("x-request-id") if headers else None) from None
        finally:
            load[lane] -= 1
            server.inflight -= 1

    def check_refused(self, verdict) -> None:
        """Stop the stage once every server refuses connections again and again: retrying cannot
        help while nothing listens, and each retry would print a line."""
        refused = self.fleet.refused_in_a_row()
        if verdict.refused and refused >= REFUSED_IN_A_ROW:
            servers = "the server" if len(self.fleet.servers) == 1 else "the servers"
            each = "" if len(self.fleet.servers) == 1 else " by each"
            raise LLMError(f"[{self.stage_id}] cannot connect to {self.fleet.names}: connection refused "
                           f"{refused} times in a row{each} ({verdict.message}); start {servers} (or fix "
                           "base_url) and run the same command again to resume")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception()
        return backoff(state.attempt_number, exc.verdict, self.settings.max_wait)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception()
        self.counters["retries"] += 1
        self.counters[f"retries_{exc.verdict.code}"] += 1
        wait = state.next_action.sleep if state.next_action else 0.0
        request_id = f" (x-request-id {exc.request_id})" if exc.request_id else ""
        log.warning("%s", redact(f"[{self.stage_id}] {exc.verdict.message}{request_id}; retry "
                                 f"{state.attempt_number} of {self.settings.max_retries} in {wait:.1f} s"))

    async def aclose(self) -> None:
        for server in self.fleet.servers:
            lanes, server.lanes = server.lanes, []
            for client in lanes:
                await client.close()
