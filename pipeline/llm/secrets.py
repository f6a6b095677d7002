"""Where the API key comes from, and scrubbing of keys and URL credentials from every text we emit.

The key is read from the environment variable named by `api_key_env` when a request must be
sent, and lives only in the SDK client; errors, logs and stored files go through `redact`.
"""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import urlsplit, urlunsplit

from pipeline.errors import ConfigError

_KEY_RE = re.compile(r"sk-[A-Za-z0-9_\-]{8,}")
_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/@\s]+@")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[^\s'\"]+")
_known: set[str] = set()

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def remember(secret: str | None) -> None:
    """Scrub this exact value from everything `redact` sees from now on."""
    if secret and len(secret) >= 4:
        _known.add(secret)


def redact(text: object) -> str:
    """`text` with API keys, bearer tokens and `user:pass@` in URLs replaced by `***`."""
    out = str(text)
    for secret in _known:
        out = out.replace(secret, "***")
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
LOGGERS = ("openai", "openai._base_client", "httpx2", "httpcore2", "httpx", "httpcore")


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
