"""`columns:` on the `alpaca` and `messages` sources: read files whose fields have other names
(`question`/`answer`, `conversations` with `from`/`value` and `human`/`gpt` roles), as
LLaMA-Factory's `dataset_info.json` describes them.

The row is renamed to the adapter's own field names before it converts; a rejection names the
file's own field (`bad_schema:question`, not `bad_schema:instruction`) and keeps the row as it
was in the file.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from pydantic import Field

from pipeline.ops.base import Params
from pipeline.record import Rejected


class AlpacaColumns(Params):
    """`columns:` of the alpaca source: our field -> the file's field."""

    instruction: str | None = Field(None, description="field holding the instruction (e.g. question, prompt)")
    input: str | None = Field(None, description="field holding the extra input (e.g. context)")
    output: str | None = Field(None, description="field holding the answer (e.g. answer, response)")
    system: str | None = Field(None, description="field holding a system prompt")
    history: str | None = Field(None, description="field holding earlier [query, response] pairs")

    def names(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v}


class MessagesColumns(Params):
    """`columns:` of the messages source: the list, its role/content keys, role values, system."""

    messages: str | None = Field(None, description="field holding the list of messages (e.g. conversations)")
    role: str | None = Field(None, description="key of a message's role (e.g. from)")
    content: str | None = Field(None, description="key of a message's text (e.g. value)")
    roles: dict[str, str] = Field(default_factory=dict,
                                  description="role values -> system/user/assistant (e.g. {human: user, gpt: assistant})")
    system: str | None = Field(None, description="field holding a system prompt put first")


def alpaca_row(row: dict, cols: AlpacaColumns) -> dict:
    """The row under alpaca's own field names (mapped fields replace same-named ones)."""
    names = cols.names()
    out = {k: v for k, v in row.items() if k not in names}
    for ours, theirs in names.items():
        if theirs in row:
            out[ours] = row[theirs]
        else:
            out.pop(ours, None)
    return out


def messages_row(row: dict, cols: MessagesColumns, field: str) -> dict:
    """The row with its message list at `field`, each message as {role, content} (roles mapped)."""
    key = cols.messages or field
    out = {k: v for k, v in row.items() if k not in (key, field, cols.system)}
    if key not in row:
        return out
    raw = row[key]
    if isinstance(raw, list):
        raw = [_message(m, cols) for m in raw]
        if cols.system and isinstance(row.get(cols.system), str) and row[cols.system].strip():
            raw = [{"role": "system", "content": row[cols.system]}] + raw
    out[field] = raw
    return out


def _message(m: Any, cols: MessagesColumns) -> Any:
    if not isinstance(m, dict):
        return m
    role_key, content_key = cols.role or "role", cols.content or "content"
    out = {}
    if role_key in m:
        role = m[role_key]
        out["role"] = cols.roles.get(role, role) if isinstance(role, str) else role
    if content_key in m:
        out["content"] = m[content_key]
    return out


def renamer(pairs: list[tuple[str, str]]) -> Callable[[str], str]:
    """A function renaming our field paths (`messages[2].role`) to the file's (`conversations[2].from`)."""
    rules = [(re.compile(rf"(^|\.|\]){re.escape(ours)}(?=$|[.\[:])"), theirs) for ours, theirs in pairs if ours != theirs]

    def rename(path: str) -> str:
        for rule, theirs in rules:
            path = rule.sub(lambda m: m.group(1) + theirs, path)
        return path
    return rename


def alpaca_names(cols: AlpacaColumns) -> Callable[[str], str]:
    return renamer(list(cols.names().items()))


def messages_names(cols: MessagesColumns, field: str) -> Callable[[str], str]:
    pairs = [(field, cols.messages or field)]
    pairs += [(k, v) for k, v in (("role", cols.role), ("content", cols.content)) if v]
    return renamer(pairs)


def in_file_terms(item: Any, original: Any, renamed: Any, rename: Callable[[str], str]) -> Any:
    """A rejection as the file's user reads it: their field names, and their row as it was."""
    if not isinstance(item, Rejected):
        return item
    if item.reason.startswith("bad_schema:"):
        field = item.reason[len("bad_schema:"):]
        item.reason = "bad_schema:" + rename(field)
        if item.detail.startswith(field + ":"):
            item.detail = rename(field) + item.detail[len(field):]
    if item.raw is renamed:
        item.raw = original
    return item


def mapped(convert: Callable[..., Any], remap: Callable[[dict], dict],
           rename: Callable[[str], str]) -> Callable[..., Any]:
    """An adapter's `convert(row, where, params, src)` reading rows through `remap`."""
    def convert_mapped(row: Any, where: str, params: Any, src: Any) -> Any:
        if not isinstance(row, dict):
            return convert(row, where, params, src)
        renamed = remap(row)
        return in_file_terms(convert(renamed, where, params, src), row, renamed, rename)
    return convert_mapped


def alpaca_convert(convert: Callable[..., Any], cols: AlpacaColumns | None) -> Callable[..., Any]:
    """The alpaca adapter's `convert`, under `columns:` when given."""
    if cols is None:
        return convert
    return mapped(convert, lambda row: alpaca_row(row, cols), alpaca_names(cols))


def messages_convert(convert: Callable[..., Any], cols: MessagesColumns | None, field: str) -> Callable[..., Any]:
    """The messages adapter's `convert`, under `columns:` when given."""
    if cols is None:
        return convert
    return mapped(convert, lambda row: messages_row(row, cols, field), messages_names(cols, field))
