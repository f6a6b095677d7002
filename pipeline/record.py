"""The canonical record `{"id", "messages", "meta"}`, its content id and its validation.

Role order: optional `system` first, then `user`/`assistant` alternating, starting with `user`.
A record ending with `user` is *open* (an instruction awaiting its answer); one ending with
`assistant` is *complete*. Only complete records are exported.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline.errors import InputError

ROLES = ("system", "user", "assistant")
META_KEYS = ("source", "license", "parents", "stage", "lang", "scores")


_SURROGATE_RE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def repair_unicode(value: Any) -> tuple[Any, int]:
    """`value` with every lone surrogate replaced by U+FFFD, and how many texts were changed.

    JSON may escape a lone surrogate (`"x\\ud800y"`); Python decodes it, but it cannot be
    encoded as UTF-8, so it would crash every later write. Texts, keys and nested lists/objects
    are repaired; anything else is returned as is.
    """
    try:
        orjson.dumps(value)  # fast path in C: raises on a surrogate (and on types it cannot write)
        return value, 0
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        pass
    counter = [0]
    return _repair(value, counter), counter[0]


def _repair(value: Any, counter: list[int]) -> Any:
    if isinstance(value, str):
        fixed, n = _SURROGATE_RE.subn(REPLACEMENT, value)
        counter[0] += bool(n)
        return fixed
    if isinstance(value, dict):
        return {_repair(k, counter): _repair(v, counter) for k, v in value.items()}
    if isinstance(value, list):
        return [_repair(v, counter) for v in value]
    if isinstance(value, tuple):
        return tuple(_repair(v, counter) for v in value)
    return value


def _dumps(value: Any, **kw: Any) -> bytes:
    """orjson bytes of `value`, repairing lone surrogates instead of failing on them."""
    try:
        return orjson.dumps(value, **kw)
    except TypeError:
        return orjson.dumps(repair_unicode(value)[0], **kw)


def content_id(messages: list[dict]) -> str:
    """Stable 16-hex id of a conversation: hash of its roles and contents, nothing else."""
    canon = json.dumps([[m["role"], m["content"]] for m in messages], ensure_ascii=False,
                       separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation failure: the field path, a short reason code and a message."""

    field: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def check_messages(messages: Any, *, complete: bool = False) -> list[Problem]:
    """Every problem of a `messages` value, in order; empty when it is valid."""
    if not isinstance(messages, list):
        return [Problem("messages", "bad_schema:messages",
                        f"expected a list, got {type(messages).__name__}")]
    if not messages:
        return [Problem("messages", "empty_messages", "no messages")]
    problems: list[Problem] = []
    expected = "user"
    for i, msg in enumerate(messages):
        path, turn = f"messages[{i}]", i + 1
        if not isinstance(msg, dict):
            problems.append(Problem(path, f"bad_schema@turn{turn}",
                                    f"expected an object, got {type(msg).__name__}"))
            continue
        role, content = msg.get("role"), msg.get("content")
        for key in msg:
            if key not in ("role", "content"):
                problems.append(Problem(f"{path}.{key}", f"bad_schema@turn{turn}", "unknown key"))
        if not isinstance(content, str):
            what = "missing" if "content" not in msg else f"expected text, got {type(content).__name__}"
            problems.append(Problem(f"{path}.content", f"bad_schema@turn{turn}", what))
        elif not content.strip():
            problems.append(Problem(f"{path}.content", f"empty_content@turn{turn}", "empty content"))
        if role not in ROLES:
            problems.append(Problem(f"{path}.role", f"bad_role@turn{turn}",
                                    f"unknown role {role!r} (expected system, user or assistant)"))
            continue
        if role == "system":
            if i != 0:
                problems.append(Problem(f"{path}.role", f"system_not_first@turn{turn}",
                                        "'system' is only allowed as the first message"))
            continue
        if role != expected:
            code = "first_turn_not_user" if expected == "user" and not _has_turn(messages, i) \
                else f"roles_not_alternating@turn{turn}"
            problems.append(Problem(f"{path}.role", code, f"expected {expected!r}, got {role!r}"))
        expected = "assistant" if role == "user" else "user"
    if not problems:
        roles = [m["role"] for m in messages if m["role"] != "system"]
        if not roles:
            problems.append(Problem("messages", "no_user_turn", "only a system message"))
        elif complete and roles[-1] != "assistant":
            problems.append(Problem(f"messages[{len(messages) - 1}].role", "incomplete",
                                    "a complete example must end with 'assistant'"))
    return problems


def _has_turn(messages: list, upto: int) -> bool:
    """True when a user/assistant turn occurs before index `upto`."""
    return any(isinstance(m, dict) and m.get("role") in ("user", "assistant")
               for m in messages[:upto])


@dataclass(slots=True)
class Record:
    """One example: messages plus provenance in `meta`. Build new ones with `Record.new`."""

    id: str
    messages: list[dict]
    meta: dict = field(default_factory=dict)

    @classmethod
    def new(cls, messages: list[dict], meta: dict | None = None) -> Record:
        msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
        # A safety net for text that entered without passing a source's repair (counted there).
        msgs, _ = repair_unicode(msgs)
        return cls(content_id(msgs), msgs, dict(meta or {}))

    @classmethod
    def from_dict(cls, obj: Any, where: str = "") -> Record:
        """Parse a decoded JSON line; raise InputError naming `where` and the field."""
        problems = validate_dict(obj)
        if problems:
            prefix = f"{where}: " if where else ""
            raise InputError(prefix + "; ".join(str(p) for p in problems))
        return cls(obj["id"], obj["messages"], obj.get("meta") or {})

    def to_dict(self) -> dict:
        return {"id": self.id, "messages": self.messages, "meta": self.meta}

    def to_json(self) -> str:
        return self.to_bytes().decode("utf-8")

    def to_bytes(self) -> bytes:
        return _dumps(self.to_dict())

    @property
    def complete(self) -> bool:
        return bool(self.messages) and self.messages[-1]["role"] == "assistant"

    @property
    def system(self) -> str | None:
        first = self.messages[0] if self.messages else None
        return first["content"] if first and first["role"] == "system" else None

    @property
    def instruction(self) -> str:
        """The first user turn."""
        return next((m["content"] for m in self.messages if m["role"] == "user"), "")

    @property
    def response(self) -> str:
        """The last assistant turn ('' for an open record)."""
        return self.messages[-1]["content"] if self.complete else ""

    def turns(self, role: str) -> list[str]:
        return [m["content"] for m in self.messages if m["role"] == role]

    def derive(self, messages: list[dict], **meta: Any) -> Record:
        """A new record made from this one: fresh id, meta copied, this id in `parents`."""
        new_meta = dict(self.meta)
        new_meta.update(meta)
        new_meta["parents"] = [self.id]
        return Record.new(messages, new_meta)


def validate_dict(obj: Any, *, complete: bool = False) -> list[Problem]:
    """Problems of a decoded record object (top-level keys, messages, meta)."""
    if not isinstance(obj, dict):
        return [Problem("record", "bad_schema:record", f"expected an object, got {type(obj).__name__}")]
    problems: list[Problem] = []
    for key in obj:
        if key not in ("id", "messages", "meta"):
            problems.append(Problem(key, f"bad_schema:{key}", "unknown key"))
    if not isinstance(obj.get("id"), str) or not obj.get("id"):
        problems.append(Problem("id", "bad_schema:id", "missing or not a non-empty string"))
    if "messages" not in obj:
        problems.append(Problem("messages", "bad_schema:messages", "missing"))
    else:
        problems.extend(check_messages(obj["messages"], complete=complete))
    if "meta" in obj and not isinstance(obj["meta"], dict):
        problems.append(Problem("meta", "bad_schema:meta", "expected an object"))
    return problems


@dataclass(slots=True)
class Rejected:
    """A record (or an unparsable row) a stage dropped, with the reason why.

    `reason` is a short code (`empty_output`, `duplicate`, `bad_json`, `roles_not_alternating@turn3`);
    the counters count it as `dropped_<code>` with any `@...` suffix removed.
    """

    reason: str
    detail: str = ""
    record: Record | None = None
    raw: Any = None
    where: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def counter(self) -> str:
        return "dropped_" + self.reason.split("@", 1)[0]

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"reason": self.reason}
        if self.detail:
            out["detail"] = self.detail
        if self.where:
            out["where"] = self.where
        out.update(self.extra)
        if self.record is not None:
            out["record"] = self.record.to_dict()
        if self.raw is not None:
            out["raw"] = self.raw
        return out

    def to_json(self) -> str:
        return self.to_bytes().decode("utf-8")

    def to_bytes(self) -> bytes:
        return _dumps(self.to_dict(), default=str)
