"""Where the API key comes from, and scrubbing of keys and URL credentials from every text we emit.

The key is read from the environment variable named by `api_key_env` when a request must be
sent, and lives only in the SDK client; errors, logs and stored files go through `redact`.
Credentials in a base URL (`http://user:pw@host/v1`) are never sent: the SDK gets the URL
without them and sends the key as a bearer token (HTTP clients would otherwise turn them into
Basic auth and drop the key). Every secret is also known in its base64 forms, since an endpoint
that echoes an `Authorization` header echoes them encoded.
"""

from __future__ import annotations

import base64
import logging
import os
import re
from urllib.parse import unquote, urlsplit, urlunsplit

from pipeline.errors import ConfigError

_KEY_RE = re.compile(r"sk-[A-Za-z0-9_\-]{8,}")
_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/@\s]+@")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[^\s'\"]+")
_known: list[str] = []      # longest first, so `user:pw` goes before `pw`
MIN_ENCODED = 6             # shorter base64 fragments would match ordinary text
_warned: set[str] = set()
log = logging.getLogger("pipeline.llm")

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def encoded_forms(secret: str) -> set[str]:
    """Base64 text that appears wherever `secret` is base64-encoded, alone or inside a longer
    value (`Basic base64(user:pw)`): for each of the three alignments, the groups made of the
    secret's bytes only, in the standard and URL-safe alphabets."""
    data, out = secret.encode(), set()
    for start in range(3):
        whole = data[start:start + 3 * ((len(data) - start) // 3)]
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(whole).decode()
            if len(core) >= MIN_ENCODED:
                out.add(core)
    full = base64.b64encode(data).decode()  # the secret alone, padding included
    return out | ({full, full.rstrip("=")} if len(full) >= MIN_ENCODED else set())


def remember(secret: str | None) -> None:
    """Scrub this value (as written, URL-decoded and base64-encoded) from everything `redact` sees."""
    if not secret or len(secret) < 4:
        return
    new = {secret, unquote(secret)}
    for value in list(new):
        new |= encoded_forms(value)
    _known.extend(v for v in new if v not in _known)
    _known.sort(key=len, reverse=True)


def redact_known(text: str) -> str:
    """`text` without the remembered secrets (for model output: no pattern guessing there)."""
    for secret in _known:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def redact(text: object) -> str:
    """`text` with API keys, bearer tokens and `user:pass@` in URLs replaced by `***`."""
    out = redact_known(str(text))
    out = _KEY_RE.sub("sk-***", out)
    out = _BEARER_RE.sub(r"\1***", out)
    return _USERINFO_RE.sub(r"\g<scheme>***@", out)


def public_url(url: str) -> str:
    """A URL without its `user:password@` part (for cache keys, files and messages)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url.rstrip("/")
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])).rstrip("/")


def resolve_base_url(configured: str | None) -> str:
    """The endpoint: the setting, else `$OPENAI_BASE_URL`, else OpenAI's."""
    url = configured or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    remember_userinfo(url)
    return url


def remember_userinfo(url: str) -> None:
    netloc = urlsplit(url).netloc
    if "@" in netloc:
        userinfo = netloc.rsplit("@", 1)[0]
        remember(userinfo)
        for part in userinfo.split(":"):
            remember(part)


def sdk_url(url: str) -> str:
    """The base URL handed to the SDK: without credentials (warned about once per endpoint)."""
    clean = public_url(url)
    if clean != url.rstrip("/") and clean not in _warned:
        _warned.add(clean)
        log.warning("credentials in the base URL %s are not sent; the key from the api_key_env "
                    "variable goes in the Authorization header", redact(url))
    return clean


def api_key(env_name: str, base_url: str) -> str:
    """The key from `$env_name`; local endpoints (not OpenAI's) may do without one."""
    key = os.environ.get(env_name, "").strip()
    if key:
        remember(key)
        return key
    if public_url(base_url).startswith("https://api.openai.com"):
        raise ConfigError(f"no API key: set the environment variable {env_name} "
                          "(or `api_key_env` in the recipe's llm block to name another one)")
    return "not-needed"


class RedactingFilter(logging.Filter):
    """Rewrites log records so that no key or URL credential reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it as usual
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_FILTER = RedactingFilter()
LOGGERS = ("openai", "openai._base_client", "httpx2", "httpcore2", "httpx", "httpcore", "pipeline.llm")


def install_log_filter() -> None:
    """Attach the redacting filter to the SDK's and HTTP stack's loggers and to root handlers."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
