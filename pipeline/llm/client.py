"""`ctx.llm` of an LLM stage (`StageLLM`): a bounded asyncio pool behind the request cache.

The stage's event loop runs in the caller's thread, driven from the op's generator: replies
are yielded as they arrive, so the runner writes records while other requests are in flight.
Requests that get no answer (retries exhausted, budget reached) do not stop the others; the
stage then ends with an error naming them, and the next run sends only those again.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, deque
from functools import partial
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Iterator

from pydantic import ValidationError

from pipeline.errors import BudgetError, ConfigError, LLMError
from pipeline.llm.accounting import Accountant
from pipeline.llm.cache import ResponseCache
from pipeline.llm.canonical import Prepared, keys_elsewhere, prepare
from pipeline.llm.fleet import cache_endpoints, check_servers, server_urls
from pipeline.llm.replies import error_reply, to_reply
from pipeline.llm.retry import RequestFailed, RequestRejected
from pipeline.llm.secrets import redact, redact_known
from pipeline.llm.settings import LLMSettings
from pipeline.llm.types import AsyncAsk, Reply, Request

STOP_GRACE = 0.5
Task = Callable[[AsyncAsk], Awaitable[Any]]


async def _single(request: Request, ask: AsyncAsk) -> Reply:
    return await ask(request)


class Finished:
    """Tasks in the order they finish: one callback per task, not one per task per wait."""

    def __init__(self):
        self.queue: deque[asyncio.Task] = deque()
        self.event: asyncio.Event | None = None

    def put(self, task: asyncio.Task) -> None:
        self.queue.append(task)
        if self.event is not None:
            self.event.set()

    async def wait(self) -> None:
        if not self.queue:
            self.event = asyncio.Event()
            await self.event.wait()
            self.event = None

    def drain(self) -> list[asyncio.Task]:
        out = list(self.queue)
        self.queue.clear()
        return out


class StageClient:
    def __init__(self, stage_id: str, settings: LLMSettings, base_url: str | list[str], run_dir: Path,
                 counters: Counter, *, sleep: Callable[[float], Awaitable[None]] | None = None):
        self.stage_id, self.settings, self.counters = stage_id, settings, counters
        self.run_dir = Path(run_dir)
        self.siblings: list[StageClient] = []
        self.model = settings.model or ""
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.base_url = urls[0]
        # a fleet's answers are keyed by its first server in sorted order, found under any of them
        self.endpoint, *self.other_endpoints = cache_endpoints(urls)
        self.cache = ResponseCache(run_dir)
        self.account = Accountant(counters, settings, self.cache)
        self.loop = asyncio.new_event_loop()
        self.sem = asyncio.Semaphore(settings.concurrency)
        self.live = 0
        self.outstanding: set[asyncio.Task] = set()  # tasks of every run_tasks not yet read
        self.stopping = False
        self.failures: list[RequestFailed] = []
        if settings.mode == "batch":
            from pipeline.llm.batch import BatchTransport

            self.transport = BatchTransport(self, Path(run_dir), sleep=sleep)
        else:
            from pipeline.llm.transport import OnlineTransport

            self.transport = OnlineTransport(stage_id, settings, urls, counters, sleep=sleep)

    # -- one request --------------------------------------------------------------------------
    def prepare(self, request: Request) -> Prepared:
        return prepare(request, self.settings, self.model, self.endpoint)

    def elsewhere(self, prep: Prepared) -> tuple[str, ...]:
        """The request's keys under the fleet's other servers (none with one server)."""
        return keys_elsewhere(prep, self.other_endpoints) if self.other_endpoints else ()

    def from_cache(self, prep: Prepared) -> Reply | None:
        hit = self.cache.get(prep.key, self.elsewhere(prep))
        if hit is None:
            return None
        reply = to_reply(prep.request, json.loads(hit[0]), cached=True)
        self.account.used(reply, hit[1])
        return reply

    def store(self, prep: Prepared, text: str, obj: dict) -> Reply:
        """Keep a fresh response in the cache and account for it."""
        clean = redact_known(text)  # an endpoint echoing our credentials into a reply
        if clean != text:
            text, obj = clean, json.loads(clean)
        reply = to_reply(prep.request, obj, cached=False)
        cost = self.account.price(reply.tokens_in, reply.tokens_out)
        self.cache.put(prep.key, self.stage_id, prep.canon, text, reply.tokens_in, reply.tokens_out, cost,
                       self.elsewhere(prep))
        self.account.used(reply, cost)
        return reply

    def rejected(self, prep: Prepared, message: str) -> Reply:
        self.counters["failures"] += 1
        return error_reply(prep.request, message)

    async def ask_async(self, request: Request) -> Reply:
        prep = self.prepare(request)
        reply = self.from_cache(prep)
        if reply is not None:
            return reply
        if self.stopping:
            raise RequestFailed("stopped", "not sent: the run is stopping")
        if not self.transport.bounded:
            reason = self.account.over_budget()
            if reason:
                self.counters["not_sent"] += 1
                raise RequestFailed("budget", reason)
            return await self.transport.send_prepared(prep)
        async with self.sem:
            reason = "the run is stopping" if self.stopping else self.account.over_budget()
            if reason:
                self.counters["not_sent"] += 1
                raise RequestFailed("budget", reason)
            self.account.inflight += 1
            try:
                text, obj = await self.transport.send(prep)
            except RequestRejected as e:
                return self.rejected(prep, e.verdict.message)
            except RequestFailed:
                self.counters["failures"] += 1
                raise
            except LLMError:
                self.stopping = True
                raise
            finally:
                self.account.inflight -= 1
        return self.store(prep, text, obj)

    # -- StageLLM -----------------------------------------------------------------------------
    def ask(self, request: Request) -> Reply:
        self.live += 1
        try:
            return self.loop.run_until_complete(self.ask_async(request))
        except RequestFailed as e:
            self.failures.append(e)
            self.raise_failures()
            raise
        finally:
            self.live -= 1

    def run(self, requests: Iterable[Request]) -> Iterator[Reply]:
        return self.run_tasks(partial(_single, r) for r in requests)

    def run_tasks(self, tasks: Iterable[Task]) -> Iterator[Any]:
        loop, source = self.loop, iter(tasks)
        limit = self.transport.task_limit(self.settings.concurrency)
        pending: set[asyncio.Task] = set()
        finished = Finished()
        exhausted = False
        try:
            while True:
                while not exhausted and (limit is None or len(pending) < limit):
                    fn = next(source, None)
                    if fn is None:
                        exhausted = True
                        break
                    self.live += 1
                    task = loop.create_task(self._guard(fn))
                    task.add_done_callback(finished.put)
                    pending.add(task)
                    self.outstanding.add(task)
                if not pending:
                    break
                loop.run_until_complete(finished.wait())
                done = finished.drain()
                fatal = next((t.exception() for t in done if t.exception() is not None), None)
                if fatal is not None:
                    self._settle(pending)
                    done += finished.drain()
                for task in done:  # a task leaves `pending` only once read: see _cancel
                    pending.discard(task)
                    if task.exception() is None:
                        ok, value = task.result()
                        if ok:
                            yield value
                        else:
                            self.failures.append(value)
                if fatal is not None:
                    raise fatal
        finally:
            self._cancel(pending)
        self.raise_failures()

    async def _guard(self, fn: Task) -> tuple[bool, Any]:
        try:
            return True, await fn(self.ask_async)
        except RequestFailed as e:
            return False, e
        finally:
            self.live -= 1
            self.transport.poke()

    def _settle(self, pending: set[asyncio.Task]) -> None:
        """A fatal error: send nothing new; requests in flight get a moment to land."""
        self.stopping = True
        if pending:
            grace = min(STOP_GRACE, self.settings.timeout)
            self.loop.run_until_complete(asyncio.wait(pending, timeout=grace))

    def _cancel(self, pending: set[asyncio.Task]) -> None:
        """Cancel and await tasks, reading every exception: an unread one is logged as "Task
        exception was never retrieved" with its traceback when the task is collected."""
        tasks = set(pending)
        pending.clear()
        self.outstanding.difference_update(tasks)
        if not tasks or self.loop.is_closed():
            return
        for task in tasks:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

    def sibling(self, settings: LLMSettings) -> "StageClient":
        """A client for another model or endpoint within this stage (e.g. a user simulator): its
        own key, pool and limits; this stage's event loop, cache and counters; closed with this one."""
        check_servers(f"stage {self.stage_id}", settings)
        other = StageClient(self.stage_id, settings, server_urls(settings.base_url), self.run_dir, self.counters)
        other.loop.close()
        other.loop = self.loop
        other.cache.refresh_since = self.cache.refresh_since
        self.siblings.append(other)
        return other

    def raise_failures(self) -> None:
        failures, self.failures = self.failures, []
        if not failures:
            return
        codes = Counter(f.code for f in failures)
        if "budget" in codes:
            first = next(f for f in failures if f.code == "budget")
            raise BudgetError(f"[{self.stage_id}] budget reached: {first}; {codes['budget']} requests "
                              "not sent. Raise the budget in the recipe's llm block and run the same "
                              "command again to resume (answered requests come from the cache)")
        summary = ", ".join(f"{code} {n}" for code, n in codes.most_common())
        raise LLMError(redact(f"[{self.stage_id}] {len(failures)} requests got no answer ({summary}; "
                              f"e.g. {failures[0]}); run the same command again to retry them "
                              "(answered requests come from the cache)"))

    def close(self) -> None:
        if self.loop.is_closed():
            return
        try:
            # a consumer that failed (e.g. disk full) leaves run_tasks suspended: its tasks end here
            self.stopping = True
            self._cancel(self.outstanding)
            for other in self.siblings:
                self.loop.run_until_complete(other.transport.aclose())
                other.cache.close()
            self.loop.run_until_complete(self.transport.aclose())
        finally:
            self.loop.close()
            self.cache.close()


def stage_settings(stage: Any, overrides: dict | None) -> LLMSettings:
    """The stage's settings with CLI overrides (`--model`, `--base-url`, `--concurrency`) on top."""
    settings = stage.llm or LLMSettings()
    if overrides:
        try:
            settings = LLMSettings(**{**settings.model_dump(), **overrides})
        except ValidationError as e:
            raise ConfigError(f"stage {stage.id}: bad LLM option: {e.errors()[0]['msg']}") from None
    check_servers(f"stage {stage.id}", settings)
    if not settings.model:
        raise ConfigError(f"stage {stage.id}: no model: set `model` in the recipe's llm block "
                          "(or the stage's) or pass --model")
    return settings


def client_for_stage(stage: Any, ctx: Any, overrides: dict | None = None, *,
                     sleep: Callable[[float], Awaitable[None]] | None = None) -> StageClient:
    """The `ctx.llm` the runner gives an LLM stage."""
    settings = stage_settings(stage, overrides)
    client = StageClient(stage.id, settings, server_urls(settings.base_url), ctx.run_dir, ctx.counters,
                         sleep=sleep)
    client.cache.refresh_since = ctx.extra.get("cache_refresh_since")  # `run --no-cache ID`
    return client
