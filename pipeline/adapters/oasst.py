"""OpenAssistant oasst1/oasst2: the message table (one message per line) or the nested tree
exports (one tree per line: `prompt` with `replies`, or the root message itself with `replies`). Trees are rebuilt, deleted and
review-failed messages dropped (with their subtrees), then threads are emitted: the
best-ranked path (lowest `rank` at each step; default) or every root-to-assistant-leaf path.

Ledger: each message is either consumed into a thread or rejected with its reason
(`orphan`, `deleted`, `review_failed`, `parent_dropped`, `not_on_best_path`, ...); each
thread is `generated`. `limit`/`seed` pick trees, not messages. Orphans (parent not in the
input, e.g. after a language filter) are counted in `orphans`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

from pydantic import Field

from pipeline.adapters.oasst_nested import is_nested_root, nested_messages
from pipeline.adapters.base import (AdapterParams, FieldError, Source, bad_line, finish,
                                    need_object, reject_row, selected, take, text)
from pipeline.ops.base import Item, StageContext
from pipeline.record import Rejected

NAME = "oasst"
DESCRIPTION = "OpenAssistant oasst1/oasst2 message table or tree export -> conversation threads"
ROLES = {"prompter": "user", "assistant": "assistant"}


class Params(AdapterParams):
    paths: Literal["best", "all"] = Field(
        "best", description="best-ranked path per tree, or every path to an assistant leaf")
    languages: list[str] | None = Field(None, description="keep only messages whose `lang` is one of these")
    ready_only: bool = Field(False, description="keep only trees whose tree_state is ready_for_export")


@dataclass
class Msg:
    id: str
    parent: str | None
    role: str
    text: str
    tree: str
    where: str
    lang: str | None = None
    rank: int | None = None
    deleted: bool = False
    review_failed: bool = False
    review_count: int = 0
    quality: float = 0.0
    created: str = ""
    valid: bool = True
    kids: list["Msg"] = field(default_factory=list)

    def raw(self) -> dict:
        return {"message_id": self.id, "parent_id": self.parent, "message_tree_id": self.tree,
                "role": self.role, "rank": self.rank, "text": self.text}


def read(src: Source, params: Params, ctx: StageContext) -> Iterator[Item]:
    rows = list(selected(flatten(src.raw_rows()), selector(params), ctx))
    rows = pick_trees(rows, src, ctx)
    msgs: dict[str, Msg] = {}
    for where, row in src.taken(rows, sample=False):
        bad = bad_line(where, row)
        if bad:
            yield bad
            continue
        try:
            msg = parse_message(row, where)
        except FieldError as err:
            yield reject_row(where, row, err)
            continue
        if msg.id in msgs:
            yield Rejected("duplicate_message_id", f"message {msg.id} appears twice", raw=msg.raw(), where=where)
            continue
        msgs[msg.id] = msg
    yield from threads(msgs, params, src, ctx)


def flatten(raw: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """Message rows as they are; tree-export rows become their messages, parent ids filled in."""
    for where, row in raw:
        if is_nested_root(row):  # the other tree export: the root message itself, with `replies`
            yield from nested_messages(where, row)
        elif isinstance(row, dict) and isinstance(row.get("prompt"), dict) and "message_id" not in row:
            yield from nested_messages(f"{where}:prompt", row["prompt"], row.get("message_tree_id"),
                                       row.get("tree_state"))
        else:
            yield where, row


def selector(p: Params):
    def select(row: Any) -> str | None:
        if not isinstance(row, dict):
            return None
        if p.languages is not None and isinstance(row.get("lang"), str) and row["lang"] not in p.languages:
            return "lang"
        if p.ready_only and row.get("tree_state") != "ready_for_export":
            return "tree_state"
        return None

    return select


def pick_trees(rows: list, src: Source, ctx: StageContext) -> list:
    """With `limit`, keep the messages of the first (or a seeded sample of) `limit` trees."""
    if src.limit is None:
        return rows
    order = list(dict.fromkeys(tree_key(row) for _, row in rows))
    chosen = set(take(iter(order), src.limit, src.seed, ctx))
    kept = [(w, r) for w, r in rows if tree_key(r) in chosen]
    ctx.count("skipped_limit", len(rows) - len(kept))
    return kept


def tree_key(row: Any) -> str:
    tree = row.get("message_tree_id") if isinstance(row, dict) else None
    return tree if isinstance(tree, str) else f"\0{id(row)}"


def parse_message(row: Any, where: str) -> Msg:
    need_object(row)
    mid = text(row, "message_id", required=True)
    parent = row.get("parent_id")
    if parent is not None and not isinstance(parent, str):
        raise FieldError("parent_id", f"expected text or null, got {type(parent).__name__}")
    role = row.get("role")
    if role not in ROLES:
        raise FieldError("role", f"expected prompter or assistant, got {role!r}")
    body = row.get("text")
    if not isinstance(body, str):
        raise FieldError("text", "missing" if body is None else f"expected text, got {type(body).__name__}")
    rank = row.get("rank")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, (int, float))):
        raise FieldError("rank", f"expected an integer or null, got {type(rank).__name__}")
    if isinstance(rank, float) and not math.isfinite(rank):
        raise FieldError("rank", f"expected a finite number, got {rank}")
    for name in ("deleted", "review_result"):
        if row.get(name) is not None and not isinstance(row.get(name), bool):
            raise FieldError(name, f"expected true/false/null, got {type(row.get(name)).__name__}")
    count = row.get("review_count")
    return Msg(mid, parent, role, body, str(row.get("message_tree_id") or mid), where,
               lang=row.get("lang") if isinstance(row.get("lang"), str) else None,
               rank=int(rank) if rank is not None else None, deleted=row.get("deleted") is True,
               review_failed=row.get("review_result") is False,
               review_count=count if isinstance(count, int) and not isinstance(count, bool) else 0,
               quality=label_value(row.get("labels"), "quality"), created=str(row.get("created_date") or ""))


def label_value(labels: Any, name: str) -> float:
    """A label's mean value from oasst's `{name: [...], value: [...]}` (0 when absent)."""
    if isinstance(labels, dict) and isinstance(labels.get("name"), list) and isinstance(labels.get("value"), list):
        for n, v in zip(labels["name"], labels["value"]):
            if n == name and isinstance(v, (int, float)):
                return float(v)
    return 0.0


def invalid(msg: Msg, parent: Msg | None) -> str | None:
    """Why a message cannot be in a thread (None if it can)."""
    if msg.deleted:
        return "deleted"
    if msg.review_failed:
        return "review_failed"
    if not msg.text.strip():
        return "empty_text"
    if parent is None and msg.role != "prompter":
        return "root_not_prompter"
    if parent is not None and parent.role == msg.role:
        return "roles_not_alternating"
    return None


def threads(msgs: dict[str, Msg], p: Params, src: Source, ctx: StageContext) -> Iterator[Item]:
    dropped: dict[str, Rejected] = {}
    roots = []
    for msg in msgs.values():
        if msg.parent is None:
            roots.append(msg)
        elif msg.parent in msgs:
            msgs[msg.parent].kids.append(msg)
        else:
            ctx.count("orphans")
            drop(msg, Rejected("orphan", f"parent {msg.parent} is not in the input", raw=msg.raw(),
                               where=msg.where), dropped)
    for root in roots:
        mark(root, dropped)
    known: dict[str, bool] = {}
    for msg in msgs.values():  # unreachable from any root or orphan: a parent cycle
        if msg.valid and not reachable(msg, msgs, known):
            drop(msg, Rejected("parent_cycle", f"message {msg.id} is in a parent_id cycle",
                               raw=msg.raw(), where=msg.where), dropped)
    used, trimmed = set(), set()
    for root in (r for r in roots if r.valid):
        for path in [best_path(root)] if p.paths == "best" else all_paths(root):
            while path and path[-1].role != "assistant":
                trimmed.add(path.pop().id)
            if path:
                ctx.count("generated")
                used.update(m.id for m in path)
                yield thread_record(path, src)
    ctx.count("consumed", len(used))
    for msg in msgs.values():
        if msg.id in dropped:
            yield dropped[msg.id]
        elif msg.id not in used:
            why = "not_on_best_path" if p.paths == "best" and msg.id not in trimmed else "no_assistant_reply"
            yield Rejected(why, f"message {msg.id} is in no emitted thread", raw=msg.raw(), where=msg.where)


def mark(root: Msg, dropped: dict[str, Rejected]) -> None:
    """Drop invalid messages and their subtrees (iteratively: trees can be deep)."""
    stack: list[tuple[Msg, Msg | None]] = [(root, None)]
    while stack:
        node, up = stack.pop()
        why = invalid(node, up)
        if why:
            drop(node, Rejected(why, f"message {node.id}: {why.replace('_', ' ')}", raw=node.raw(),
                                where=node.where), dropped)
        else:
            stack += [(k, node) for k in node.kids]


def drop(msg: Msg, reason: Rejected, dropped: dict[str, Rejected]) -> None:
    """Drop a message with its reason and its descendants as `parent_dropped`."""
    msg.valid = False
    dropped[msg.id] = reason
    stack = list(msg.kids)
    while stack:
        node = stack.pop()
        if node.id not in dropped:
            node.valid = False
            dropped[node.id] = Rejected("parent_dropped", f"ancestor {msg.id} was dropped",
                                        raw=node.raw(), where=node.where)
            stack += node.kids


def reachable(msg: Msg, msgs: dict[str, Msg], known: dict[str, bool]) -> bool:
    """True when following parent ids from `msg` ends at a root (no cycle). `known` remembers
    every message already settled, so checking all messages is linear even for deep threads."""
    path: list[str] = []
    on_path: set[str] = set()
    node: Msg | None = msg
    result = True
    while node is not None and node.id not in known:
        if node.id in on_path or (node.parent is not None and node.parent not in msgs):
            result = False
            break
        path.append(node.id)
        on_path.add(node.id)
        node = msgs[node.parent] if node.parent is not None else None
    else:
        result = known[node.id] if node is not None else True
    for mid in path:
        known[mid] = result
    return result


def rank_key(msg: Msg) -> tuple:
    """Lowest rank first; unranked siblings by quality label, then review count, then age."""
    return (msg.rank is None, msg.rank or 0, -msg.quality, -msg.review_count, msg.created, msg.id)


def best_path(root: Msg) -> list[Msg]:
    path = [root]
    while True:
        kids = [k for k in path[-1].kids if k.valid]
        if not kids:
            return path
        path.append(min(kids, key=rank_key))


def all_paths(root: Msg) -> list[list[Msg]]:
    """Every root-to-assistant path that cannot be extended by another assistant reply."""
    out, stack = [], [[root]]
    while stack:
        path = stack.pop()
        kids = [k for k in path[-1].kids if k.valid]
        extended = [path + [k] for k in sorted(kids, key=rank_key, reverse=True)]
        if kids:
            stack += extended
        if path[-1].role == "assistant" and not any(has_assistant(k) for k in kids):
            out.append(path)
    return out


def has_assistant(msg: Msg) -> bool:
    stack = [msg]
    while stack:
        node = stack.pop()
        if node.role == "assistant":
            return True
        stack += [k for k in node.kids if k.valid]
    return False


def thread_record(path: list[Msg], src: Source) -> Item:
    messages = [{"role": ROLES[m.role], "content": m.text.strip()} for m in path]
    meta: dict = {"source": src.label, "tree_id": path[0].tree, "orig_id": path[-1].id}
    if path[0].lang:
        meta["lang"] = path[0].lang
    return finish(messages, meta, path[-1].where)
