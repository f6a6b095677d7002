"""OIG (LAION Open Instruction Generalist): JSONL `{"text": "<human>: ...\n<bot>: ...", "metadata"}`,
one or more exchanges per text, split on the speaker tags; also OIG's plain training-text
files (`.txt`: dialogues ending with `<|endoftext|>`, speakers `User:` / `Joi:` at line starts).

Text before the first tag (a background passage) is put before the first user turn.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from pydantic import Field

from pipeline.adapters.base import (AdapterParams, FieldError, Source, bad_line, finish, put_meta,
                                    read_rows, reject_row, text)
from pipeline.errors import InputError
from pipeline.ops.base import Item, StageContext
from pipeline.record import Rejected

NAME = "oig"
DESCRIPTION = "LAION OIG JSONL (<human>: / <bot>: dialogues) and OIG training-text files"
TAGS = re.compile(r"(<human>:|<bot>:)")
EOT = "<|endoftext|>"


class Params(AdapterParams):
    text_user_tag: str = Field("User:", description="user speaker tag in .txt training text")
    text_bot_tag: str = Field("Joi:", description="assistant speaker tag in .txt training text")


def read(src: Source, params: Params, ctx: StageContext) -> Iterator[Item]:
    raw = src.raw_rows() if src.hub else file_rows(src, params)
    for where, row in src.taken(raw):
        yield bad_line(where, row) or convert(row, where, src)


def file_rows(src: Source, p: Params) -> Iterator[tuple[str, Any]]:
    return src.read_files({".json", ".jsonl", ".parquet", ".txt"}, lambda path: text_file_rows(path, p)
                          if path.suffix.lower() == ".txt" else read_rows(path, src.lenient))


def text_file_rows(path: Path, p: Params) -> Iterator[tuple[str, Any]]:
    """Dialogues of a training-text file, re-tagged as OIG `<human>:`/`<bot>:` text."""
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: invalid UTF-8 at byte offset {e.start}") from None
    tag = re.compile(rf"^({re.escape(p.text_user_tag)}|{re.escape(p.text_bot_tag)})", re.M)
    line = 1
    for chunk in content.split(EOT):
        if chunk.strip():
            first = line + chunk[: len(chunk) - len(chunk.lstrip())].count("\n")
            tagged = tag.sub(lambda m: "<human>:" if m.group(1) == p.text_user_tag else "<bot>:", chunk)
            yield f"{path}:{first}", {"text": tagged}
        line += chunk.count("\n")


def parse(dialogue: str) -> list[dict]:
    """Turns of an OIG text; a preamble before the first tag joins the first user turn."""
    parts = TAGS.split(dialogue)
    preamble, turns = parts[0].strip(), []
    for tag, body in zip(parts[1::2], parts[2::2]):
        turns.append({"role": "user" if tag == "<human>:" else "assistant", "content": body.strip()})
    if preamble and turns and turns[0]["role"] == "user":
        turns[0]["content"] = f"{preamble}\n\n{turns[0]['content']}"
    elif preamble:
        turns.insert(0, {"role": "user", "content": preamble})
    return turns


def convert(row: Any, where: str, src: Source) -> Item:
    try:
        dialogue = text(row, "text", required=True)
    except FieldError as err:
        return reject_row(where, row, err)
    if not TAGS.search(dialogue):
        return Rejected("no_speaker_tags", "text has no <human>: or <bot>: tag", raw=row, where=where)
    meta: dict = {"source": src.label}
    metadata = row.get("metadata")
    if isinstance(metadata, dict):
        put_meta(meta, "task", metadata.get("source"))
    return finish(parse(dialogue), meta, where)
