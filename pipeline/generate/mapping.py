"""Where a `generate` reply goes: from parsed fields to a new record, a turn appended to the
input conversation, or `meta` of the input record.

Field names are JSON keys of the parsed reply (dots reach into nested objects); without a
schema the only field is `text`, the whole reply. A field mapped to a turn must hold non-empty
text; a missing field is a parse failure (the reply is asked again, then rejected).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from pipeline.llm.parsing import OutputError
from pipeline.ops.base import Params
from pipeline.record import Record

TEXT = "text"


class OutputMap(Params):
    """`output:` of a `generate` stage."""

    user: str | None = Field(None, description="field that becomes the user turn of a new record")
    assistant: str | None = Field(None, description="field that becomes the new record's assistant turn")
    system: str | None = Field(None, description="field that becomes the new record's system message")
    append: str | None = Field(None, description="field appended to the input conversation as its next "
                                                 "turn (assistant after a user turn, else user)")
    meta: dict[str, str] = Field(default_factory=dict,
                                 description="meta key -> field; `a.b` keys nest (e.g. scores.quality)")

    @model_validator(mode="after")
    def _one_shape(self) -> "OutputMap":
        if self.user and self.append:
            raise ValueError("output: give `user` (a new record) or `append` (a new turn), not both")
        if (self.assistant or self.system) and not self.user:
            raise ValueError("output: `assistant` and `system` need `user` (they make a new record)")
        if not (self.user or self.append or self.meta):
            raise ValueError("output: map at least one field (user, append or meta)")
        for key in self.meta:
            if not key or len(key.split(".")) > 2 or not all(key.split(".")):
                raise ValueError(f"output.meta: bad key {key!r} (a name, or section.name)")
        return self

    @property
    def mode(self) -> str:
        """`new` (a new record per sample), `append` (a turn added) or `annotate` (meta only)."""
        return "new" if self.user else "append" if self.append else "annotate"

    def fields(self) -> list[str]:
        turns = [f for f in (self.user, self.assistant, self.system, self.append) if f]
        return turns + list(self.meta.values())


def field_value(value: Any, name: str) -> Any:
    """`name` (dotted) in the parsed reply; OutputError `missing_field` when absent."""
    current = value
    for part in name.split("."):
        if not isinstance(current, dict) or part not in current:
            raise OutputError("missing_field", f"{name}: not in the reply")
        current = current[part]
    return current


def turn_text(value: Any, name: str) -> str:
    text = field_value(value, name)
    if not isinstance(text, str) or not text.strip():
        raise OutputError("bad_field", f"{name}: expected non-empty text, got {type(text).__name__}")
    return text.strip()


def check_fields(out: OutputMap, value: Any) -> None:
    """Raise OutputError when a mapped field is missing or a turn field is not text."""
    for name in (out.user, out.assistant, out.system, out.append):
        if name:
            turn_text(value, name)
    for name in out.meta.values():
        field_value(value, name)


def with_meta(meta: dict, out: OutputMap, value: Any) -> dict:
    meta = dict(meta)
    for key, name in out.meta.items():
        got = field_value(value, name)
        if "." in key:
            section, sub = key.split(".")
            inner = meta.get(section)
            meta[section] = {**(inner if isinstance(inner, dict) else {}), sub: got}
        else:
            meta[key] = got
    return meta


def next_role(rec: Record) -> str:
    return "user" if rec.complete else "assistant"


def build(rec: Record, out: OutputMap, value: Any, extra: dict) -> Record:
    """The record a parsed reply makes (after `check_fields` passed)."""
    if out.mode == "annotate":
        return Record(rec.id, rec.messages, with_meta({**rec.meta, **extra}, out, value))
    if out.mode == "append":
        messages = rec.messages + [{"role": next_role(rec), "content": turn_text(value, out.append)}]
    else:
        messages = [{"role": "system", "content": turn_text(value, out.system)}] if out.system else []
        messages.append({"role": "user", "content": turn_text(value, out.user)})
        if out.assistant:
            messages.append({"role": "assistant", "content": turn_text(value, out.assistant)})
    made = rec.derive(messages, **extra)
    return Record(made.id, made.messages, with_meta(made.meta, out, value))
