"""Chat JSONL in `messages` form (OpenAI / TRL / axolotl), including our own canonical records.

Roles must be system/user/assistant; OpenAI content parts of type `text` are joined; keys
other than `role`/`content` on a message are dropped. A row's own `meta` is kept.
"""

from __future__ import annotations

from typing import Any, Iterator

from pydantic import Field

from pipeline.adapters.columns import MessagesColumns, messages_convert
from pipeline.adapters.base import (AdapterParams, FieldError, Source, bad_line, finish,
                                    need_object, reject_row)
from pipeline.ops.base import Item, StageContext
from pipeline.record import Record

NAME = "messages"
DESCRIPTION = "Chat JSONL with a `messages` list of {role, content} (OpenAI, TRL, axolotl chat_template)"


class Params(AdapterParams):
    field: str = "messages"
    columns: MessagesColumns | None = Field(None, description="the file's names, e.g. {messages: conversations, "
                                            "role: from, content: value, roles: {human: user, gpt: assistant}}")


def read(src: Source, params: Params, ctx: StageContext) -> Iterator[Item]:
    conv = messages_convert(convert, params.columns, params.field)
    for where, row in src.rows():
        yield bad_line(where, row) or conv(row, where, params, src)


def convert(row: Any, where: str, params: Params, src: Source) -> Item:
    try:
        need_object(row)
        raw = row.get(params.field)
        if raw is None:
            raise FieldError(params.field, "missing")
        if not isinstance(raw, list):
            raise FieldError(params.field, f"expected a list, got {type(raw).__name__}")
        messages = [_message(m, i, params.field) for i, m in enumerate(raw)]
        meta = row.get("meta")
        if meta is not None and not isinstance(meta, dict):
            raise FieldError("meta", "expected an object")
    except FieldError as err:
        return reject_row(where, row, err)
    meta = dict(meta or {})
    meta.setdefault("source", src.label)
    item = finish(messages, meta, where)
    if isinstance(item, Record) and isinstance(row.get("id"), str) and row["id"] != item.id:
        item.meta.setdefault("orig_id", row["id"])
    return item


def _message(m: Any, i: int, field: str) -> dict:
    if not isinstance(m, dict):
        raise FieldError(f"{field}[{i}]", f"expected an object, got {type(m).__name__}")
    content = m.get("content")
    if isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                raise FieldError(f"{field}[{i}].content[{j}]", "only text content parts are supported")
        content = "\n".join(parts)
    if isinstance(content, (int, float)) and not isinstance(content, bool):
        content = str(content)
    if not isinstance(content, str):
        what = "missing" if content is None else f"expected text, got {type(content).__name__}"
        raise FieldError(f"{field}[{i}].content", what)
    role = m.get("role")
    if not isinstance(role, str):
        raise FieldError(f"{field}[{i}].role", "missing")
    return {"role": role, "content": content}
