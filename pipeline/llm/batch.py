"""Batch mode (`mode: batch`): a stage's requests go through the OpenAI Batch API, round by round.

Tasks ask as usual; when every running task waits on an answer, the waiting requests form a
round: cached ones are answered at once, the rest are attached to batches already submitted
(a resumed run) or written into new shards. Each shard is logged before upload and before
`batches.create` and reconciled through `files.list`/`batches.list`, then polled with backoff;
output and error files are joined on `custom_id`. Expired, failed or missing requests are
requeued once; errors that will not change (HTTP 400) are final and replayed on resume.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import openai
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from pipeline.errors import LLMError
from pipeline.jsonl import JsonlAppender
from pipeline.llm.batch_files import FINAL, OK, Joined, Outcome, build_shards, join_lines, shard_hash
from pipeline.llm.batch_store import LIVE, BatchStore, Shard, counts_text
from pipeline.llm.canonical import Prepared
from pipeline.llm.retry import FATAL, RETRY, Retryable, backoff, classify
from pipeline.llm.secrets import api_key, install_log_filter, public_url, redact, sdk_url
from pipeline.llm.transport import fatal_message
from pipeline.llm.types import Reply

log = logging.getLogger("pipeline.llm")
TERMINAL = ("completed", "failed", "expired", "cancelled")
ATTEMPTS = 2  # a request is sent in at most two batches: the first, and one requeue


class BatchTransport:
    bounded = False

    def __init__(self, client, run_dir: Path, sleep=None):
        self.client, self.settings, self.stage = client, client.settings, client.stage_id
        self.store = BatchStore(client.cache.conn)
        self.folder = Path(run_dir) / "cache" / "batches" / self.stage
        self.sleep = sleep or asyncio.sleep
        self.waiting: dict[str, tuple[Prepared, list[asyncio.Future]]] = {}
        self.flushing = False
        self._scheduled = False
        self._sdk: openai.AsyncOpenAI | None = None
        self.endpoint = public_url(client.base_url)
        self._retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_retries + 1), retry=retry_if_exception_type(Retryable),
            sleep=self.sleep, reraise=True,
            wait=lambda st: backoff(st.attempt_number, st.outcome.exception().verdict, self.settings.max_wait))

    # -- rounds -------------------------------------------------------------------------------
    @staticmethod
    def task_limit(concurrency: int) -> None:
        return None  # every task must reach its first ask before a round is sent

    async def send_prepared(self, prep: Prepared) -> Reply:
        future = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(prep.key, (prep, []))[1].append(future)
        self.poke()
        return await future

    def poke(self) -> None:
        if not self._scheduled and not self.client.loop.is_closed():
            self._scheduled = True
            self.client.loop.call_soon(self._maybe_flush)

    def _maybe_flush(self) -> None:
        self._scheduled = False
        blocked = sum(len(f) for _, f in self.waiting.values())
        if self.flushing or not self.waiting or blocked < self.client.live:
            return
        items, self.waiting, self.flushing = self.waiting, {}, True
        asyncio.ensure_future(self._flush(items))

    async def _flush(self, items: dict) -> None:
        try:
            await self._round(items)
        except BaseException as e:  # hand the error to every waiting task, then stop
            for _, futures in items.values():
                for f in futures:
                    if not f.done():
                        f.set_exception(e)
            if not isinstance(e, Exception):
                raise
        finally:
            self.flushing = False
            self.poke()

    def _resolve(self, key: str, items: dict, reply: Reply) -> None:
        for future in items.pop(key)[1]:
            if not future.done():
                future.set_result(reply)

    async def _round(self, items: dict) -> None:
        for key in list(items):
            n, error = self.store.attempts(key)
            if n >= ATTEMPTS:
                self._resolve(key, items, self.client.rejected(items[key][0], error or "batch request failed"))
        while items:
            work = self._attach(items) + self._new_shards(items)
            results = await asyncio.gather(*(self._drive(shard) for shard, _ in work))
            for (shard, keys), (joined, batch) in zip(work, results):
                self._ingest(items, keys, joined)
                self.store.update(shard, state="done", status=batch.status, counts=counts_text(batch))

    def _attach(self, items: dict) -> list[tuple[Shard, list[str]]]:
        """Submitted (or half-submitted) shards holding some of these keys: wait on those."""
        out = []
        for shard in self.store.shards(self.stage, LIVE):
            keys = [k for k in self.store.keys(shard.shard) if k in items]
            if keys:
                out.append((shard, keys))
        return out

    def _new_shards(self, items: dict) -> list[tuple[Shard, list[str]]]:
        attached = {k for shard in self.store.shards(self.stage, LIVE) for k in self.store.keys(shard.shard)}
        preps = [p for k, (p, _) in items.items() if k not in attached]
        shards, too_big = build_shards(preps, self.settings.batch_max_requests, self.settings.batch_max_bytes)
        for prep in too_big:
            self._final(items, prep.key, f"request too large for a batch input file "
                                         f"(over {self.settings.batch_max_bytes} bytes)")
        out = []
        self.folder.mkdir(parents=True, exist_ok=True)
        for lines in shards:
            seq = self.store.next_seq(self.stage)
            path = self.folder / f"batch_input_{seq:03d}.jsonl"
            path.write_bytes(b"".join(line for _, line in lines))
            keys = [p.key for p, _ in lines]
            shard = Shard(f"{self.stage}-{seq:03d}", self.stage, seq, shard_hash(keys), str(path), len(keys),
                          "/v1" + lines[0][0].path, self.endpoint, self.settings.api_key_env, "uploading",
                          None, None, None, None, None, 0.0)
            self.store.add_shard(shard, keys)
            self.client.counters["batches"] += 1
            out.append((shard, keys))
        return out

    def _final(self, items: dict, key: str, message: str) -> None:
        self.store.conn.execute("INSERT OR REPLACE INTO batch_attempts VALUES (?, ?, ?)", (key, ATTEMPTS, message))
        self._resolve(key, items, self.client.rejected(items[key][0], message))

    def _ingest(self, items: dict, keys: list[str], joined: Joined) -> None:
        for key in keys:
            if key not in items:
                continue
            outcome = joined.outcomes.get(key) or Outcome("requeue", "missing from the output and error files")
            if outcome.kind == OK:
                self._resolve(key, items, self.client.store(items[key][0], outcome.text, outcome.body))
                continue
            why = redact(outcome.text)  # the endpoint's words: they go to the cache and rejected.jsonl
            if outcome.kind == FINAL:
                self._final(items, key, why)
            elif self.store.count_attempt(key, why) >= ATTEMPTS:
                self._resolve(key, items, self.client.rejected(items[key][0], f"requeued once, still: {why}"))
            else:
                self.client.counters["batch_requeued"] += 1
        if joined.problems:
            self.client.counters["batch_quarantined"] += len(joined.problems)
            with JsonlAppender(self.folder / "quarantine.jsonl") as out:
                for problem in joined.problems:
                    clean = {k: redact(v) if isinstance(v, str) else v for k, v in problem.items()}
                    out.write(json.dumps(clean, ensure_ascii=False))
                    log.warning("[%s] batch %s:%d: %s", self.stage, problem["file"], problem["line"], problem["reason"])

    # -- one shard ----------------------------------------------------------------------------
    async def _drive(self, shard: Shard):
        if shard.state == "uploading":
            file_id = await self._find_file(shard) or await self._upload(shard)
            self.store.update(shard, file_id=file_id, state="creating")
        if shard.state == "creating":
            batch = await self._find_batch(shard) or await self._create(shard)
            self.store.update(shard, batch_id=batch.id, status=batch.status, state="submitted")
        batch = await self._poll(shard)
        if batch.status == "failed":
            errors = getattr(getattr(batch, "errors", None), "data", None) or []
            where = "; ".join(f"{shard.file_name}:{e.line}: {e.message}" if e.line else f"{shard.file_name}: {e.message}"
                              for e in errors) or f"{shard.file_name}: batch {batch.id} failed"
            self.store.update(shard, state="failed", status="failed", error=where)
            raise LLMError(redact(f"[{self.stage}] batch {batch.id} failed validation: {where}"))
        joined = Joined()
        wanted = set(self.store.keys(shard.shard))
        for file_id, label in ((batch.output_file_id, "output"), (batch.error_file_id, "error")):
            if file_id:
                data = await self._call(self.sdk().files.content, file_id)
                join_lines(joined, f"{shard.shard} {label} file {file_id}", data.content, wanted)
        return joined, batch

    def sdk(self) -> openai.AsyncOpenAI:
        if self._sdk is None:
            install_log_filter()
            self._sdk = openai.AsyncOpenAI(api_key=api_key(self.settings.api_key_env, self.client.base_url),
                                           base_url=sdk_url(self.client.base_url), max_retries=0,
                                           timeout=self.settings.timeout)
        return self._sdk

    async def _call(self, fn, *args, **kw):
        """One SDK call with our retries (transient errors) and our fatal errors."""
        async def once():
            try:
                return await fn(*args, **kw)
            except openai.OpenAIError as e:
                verdict = classify(e)
                if verdict.action == RETRY:
                    raise Retryable(verdict) from None
                if verdict.action == FATAL:
                    raise LLMError(fatal_message(verdict.code, verdict.message, self.settings,
                                                 self.client.base_url)) from None
                raise LLMError(redact(f"[{self.stage}] batch API refused: {verdict.message}")) from None

        try:
            return await self._retrying.copy()(once)
        except Retryable as e:
            raise LLMError(f"[{self.stage}] batch API unreachable: {e.verdict.message}; run again to resume") from None

    def _upload_name(self, shard: Shard) -> str:
        return f"{self.store.run_id()[:12]}-{shard.shard}.jsonl"

    async def _find_file(self, shard: Shard) -> str | None:
        """A file uploaded for this shard before a crash (reconciled by its unique name)."""
        page = await self._call(self.sdk().files.list, purpose="batch")
        async for f in page:
            if f.filename == self._upload_name(shard):
                return f.id
        return None

    async def _upload(self, shard: Shard) -> str:
        data = Path(shard.input_path).read_bytes()
        f = await self._call(self.sdk().files.create, file=(self._upload_name(shard), data), purpose="batch")
        return f.id

    async def _find_batch(self, shard: Shard):
        run_id = self.store.run_id()
        page = await self._call(self.sdk().batches.list, limit=100)
        async for batch in page:
            meta = batch.metadata or {}
            if meta.get("run_id") == run_id and meta.get("shard") == shard.shard:
                return batch
        return None

    async def _create(self, shard: Shard):
        """`batches.create` without blind retries: after a timeout, look for the batch first."""
        meta = {"run_id": self.store.run_id(), "shard": shard.shard, "shard_hash": shard.shard_hash,
                "stage": self.stage}
        for attempt in range(self.settings.max_retries + 1):
            try:
                return await self.sdk().batches.create(input_file_id=shard.file_id, endpoint=shard.endpoint,
                                                       completion_window="24h", metadata=meta)
            except openai.OpenAIError as e:
                verdict = classify(e)
                if verdict.action != RETRY or attempt == self.settings.max_retries:
                    raise LLMError(redact(f"[{self.stage}] batches.create failed: {verdict.message}")) from None
            found = await self._find_batch(shard)
            if found is not None:
                return found
            await self.sleep(min(0.5 * 2 ** attempt, self.settings.max_wait))
        raise AssertionError("unreachable")

    async def _poll(self, shard: Shard):
        wait = self.settings.batch_poll
        while True:
            batch = await self._call(self.sdk().batches.retrieve, shard.batch_id)
            if batch.status != shard.status:
                log.info("[%s] batch %s (%s): %s", self.stage, batch.id, shard.file_name, batch.status)
            self.store.update(shard, status=batch.status, counts=counts_text(batch))
            if batch.status in TERMINAL:
                return batch
            await self.sleep(wait)
            wait = min(wait * 1.5, self.settings.batch_poll_max)

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()
            self._sdk = None
