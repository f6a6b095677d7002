"""What to do with a failed HTTP attempt: retry (and after how long), reject the request, or stop.

Retried: 408, 409, 429, 5xx, timeouts, connection errors, malformed 2xx bodies (unless the
server says `x-should-retry: false`: then the request is left for the next run). Stop the run:
401, 403, 404 and `insufficient_quota`, whatever `x-should-retry` says. Any other 4xx rejects
that one request. The wait honours `retry-after-ms` / `retry-after` (capped at `max_wait`), else
backs off exponentially with jitter; for every other status an `x-should-retry` header from the
server wins over the status code.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

import openai

from pipeline.llm.replies import MalformedResponse
from pipeline.llm.secrets import redact

RETRY, REJECT, FATAL, GIVEUP = "retry", "reject", "fatal", "giveup"
RETRY_STATUS = {408, 409, 429}
FATAL_STATUS = {401, 403, 404}
BASE_DELAY, MAX_BACKOFF = 0.5, 30.0


@dataclass(frozen=True)
class Verdict:
    action: str
    code: str          # short reason: rate_limited, server_error, timeout, auth, quota, bad_request...
    message: str
    retry_after: float | None = None
    refused: bool = False  # nothing listens at the endpoint (ECONNREFUSED)


def _error_field(body: object, name: str) -> str | None:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get(name), str):
            return err[name]
    return None


def retry_after(headers) -> float | None:
    """Seconds from `retry-after-ms`, `retry-after` (number or HTTP date); None when absent/invalid."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is None:
                continue
            seconds = email.utils.mktime_tz(parsed) - time.time()
        if seconds == seconds and seconds > 0:
            return seconds
    return None


def classify(exc: BaseException) -> Verdict:
    if isinstance(exc, openai.APITimeoutError):
        return Verdict(RETRY, "timeout", "request timed out")
    if isinstance(exc, openai.APIConnectionError):
        refused = any(isinstance(e, ConnectionRefusedError) for e in _chain(exc))
        return Verdict(RETRY, "connection_error", redact(f"connection error: {describe(exc)}"),
                       refused=refused)
    if isinstance(exc, MalformedResponse):
        return Verdict(RETRY, "malformed_response", str(exc))
    if not isinstance(exc, openai.APIStatusError):
        raise exc
    status, body, headers = exc.status_code, exc.body, exc.response.headers
    code = _error_field(body, "code") or _error_field(body, "type") or ""
    message = redact(f"HTTP {status}: {_error_field(body, 'message') or exc.message}"
                     f"{f' ({code})' if code else ''}")
    if code == "insufficient_quota":
        return Verdict(FATAL, "quota", message)
    if status in FATAL_STATUS:  # before x-should-retry: a refused key stays refused, whatever the hint
        return Verdict(FATAL, {401: "auth", 403: "auth", 404: "not_found"}[status], message)
    should = (headers.get("x-should-retry") or "").lower()
    if should == "true":
        return Verdict(RETRY, _retry_code(status), message, retry_after(headers))
    if status in RETRY_STATUS or status >= 500:
        if should == "false":  # transient, but the server asks not to retry now: left for the next run
            return Verdict(GIVEUP, _retry_code(status), message)
        return Verdict(RETRY, _retry_code(status), message, retry_after(headers))
    return Verdict(REJECT, code or f"http_{status}", message)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost first."""
    out: list[BaseException] = []
    while exc is not None and exc not in out:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def describe(error: BaseException) -> str:
    """The most specific non-empty text among an error and its causes (the SDK's own is a bare
    "Connection error."), else the innermost exception's type: never an empty message."""
    chain = _chain(error)
    for exc in reversed(chain):
        text = str(exc).strip()
        if text:
            return f"{text} ({type(exc).__name__})"
    return f"{type(chain[-1]).__name__} (no details from the HTTP stack)"


def _retry_code(status: int) -> str:
    return "rate_limited" if status == 429 else "server_error" if status >= 500 else f"http_{status}"


def backoff(attempt: int, verdict: Verdict, max_wait: float) -> float:
    """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
    if verdict.retry_after is not None:
        return min(verdict.retry_after, max_wait)
    base = min(BASE_DELAY * 2 ** (attempt - 1), MAX_BACKOFF, max_wait)
    return base * (1 - 0.25 * random.random())


class Retryable(Exception):
    """A failed attempt that may be retried (carries its verdict and the server's request id)."""

    def __init__(self, verdict: Verdict, request_id: str | None = None):
        super().__init__(verdict.message)
        self.verdict, self.request_id = verdict, request_id


class RequestRejected(Exception):
    """The server refused this request for good (e.g. HTTP 400): the op rejects its record."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.message)
        self.verdict = verdict


class RequestFailed(Exception):
    """No answer after every retry, or not sent (budget): left for the next run to retry."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
