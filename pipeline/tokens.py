"""Token counts: a real tokenizer when the recipe's `llm:` block names one, else the estimate.

`tokenizer:` is a local tokenizer folder (its `tokenizer.json`, as `tokenizers` and
`transformers` save it), a `tokenizer.json` file, or a GGUF model file whose vocabulary is read
with the `gguf` package (see `pipeline/gguf_vocab.py`). Both packages come
with `pip install "instructpipe[tokenizer]"`.

Without it every count is the estimate (one token per CJK character plus one per four other
characters) and says so. The runner activates the stage's tokenizer around each stage
(`using`); the filter's `min_tokens`/`max_tokens`, the dry-run estimates and the report count
through `count`.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from pipeline.errors import ConfigError

ESTIMATE_NOTE = "estimate: one token per CJK character plus one per 4 other characters (no tokenizer set)"
EXTRA = 'pip install "instructpipe[tokenizer]"'


@dataclass(frozen=True)
class Tokenizer:
    """A loaded tokenizer: `count(text)` and what it is."""

    path: Path
    kind: str
    encode: Callable[[str], Any]

    def count(self, text: str) -> int:
        return len(self.encode(text))

    @property
    def name(self) -> str:
        return f"{self.kind} tokenizer {self.path.name}"


_ACTIVE: ContextVar[Tokenizer | None] = ContextVar("instructpipe_tokenizer", default=None)


def active() -> Tokenizer | None:
    return _ACTIVE.get()


def count(text: str, estimate: Callable[[str], int]) -> int:
    """Tokens in `text`: by the active tokenizer, else by `estimate`."""
    tok = _ACTIVE.get()
    return tok.count(text) if tok is not None else estimate(text)


def basis() -> str:
    """How counts are made now, for notes and summaries."""
    tok = _ACTIVE.get()
    return tok.name if tok is not None else ESTIMATE_NOTE


@contextmanager
def using(path: str | Path | None) -> Iterator[Tokenizer | None]:
    """Count with the tokenizer at `path` inside the block (the estimate when None)."""
    tok = load(path) if path else None
    token = _ACTIVE.set(tok)
    try:
        yield tok
    finally:
        _ACTIVE.reset(token)


def load(path: str | Path) -> Tokenizer:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"llm.tokenizer: {p}: no such file or folder")
    st = p.stat()
    return _load(str(p.resolve()), st.st_mtime_ns)


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> Tokenizer:
    p = Path(path)
    if p.suffix == ".gguf":
        from pipeline.gguf_vocab import from_gguf

        return Tokenizer(p, "GGUF", _encoder(from_gguf(p, _need("gguf"), _need("tokenizers"))))
    file = p / "tokenizer.json" if p.is_dir() else p
    if file.is_file():
        tokenizers = _need("tokenizers")
        try:
            return Tokenizer(p, "tokenizers", _encoder(tokenizers.Tokenizer.from_file(str(file))))
        except Exception as e:  # the library's own parse errors
            raise ConfigError(f"llm.tokenizer: {file}: not a tokenizer.json ({e})") from None
    if p.is_dir():
        return Tokenizer(p, "transformers", _transformers(p))
    raise ConfigError(f"llm.tokenizer: {p}: expected a tokenizer folder, a tokenizer.json or a .gguf file")


def _need(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise ConfigError(f"llm.tokenizer needs the `{module}` package: {EXTRA}") from None


def _encoder(tok: Any) -> Callable[[str], Any]:
    return lambda text: tok.encode(text, add_special_tokens=False).ids


def _transformers(folder: Path) -> Callable[[str], Any]:
    """A folder without tokenizer.json (e.g. only a SentencePiece model): transformers loads it."""
    transformers = _need("transformers")
    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as e:
        raise ConfigError(f"llm.tokenizer: {folder}: no tokenizer.json, and transformers cannot load it ({e})") \
            from None
    return lambda text: tok.encode(text, add_special_tokens=False)


def request_tokens(body: dict) -> int:
    """Prompt tokens of a request body by the active tokenizer (4 per message for the chat framing)."""
    if "messages" in body:
        return sum(count(str(m.get("content") or ""), len) + 4 for m in body["messages"]) + 2
    return count(str(body.get("prompt") or ""), len)


def digest(path: str | None) -> str | None:
    """Content hash of a tokenizer (file or folder), for fingerprints."""
    if not path:
        return None
    from pipeline.fingerprint import path_digest

    p = Path(path)
    return path_digest(p) if p.exists() else None


def shapes_output(stage: Any) -> bool:
    """Whether a stage's output depends on the tokenizer (the filter's token bounds, the card)."""
    params = stage.params
    if stage.op.name == "export":  # the dataset card's token figures
        return True
    return stage.op.name == "filter" and (getattr(params, "min_tokens", None) is not None
                                          or getattr(params, "max_tokens", None) is not None)
