"""How LLaMA-Factory 0.9.5 reads a `dataset_info.json` entry of local files, restated for tests.

LLaMA-Factory itself needs torch; this follows its `data/loader.py` (file or folder under
`dataset_dir`, one file type for all files, `load_dataset(type, data_files=[...], split=...)`) and
`data/converter.py` (alpaca and sharegpt rows, odd/even role tags, a system first message,
`ranking` rows with `chosen`/`rejected` as one message each: dicts in sharegpt, text in alpaca).
A row it would skip as abnormal raises here, so a test fails instead of losing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import datasets

FILEEXT2TYPE = {"arrow": "arrow", "csv": "csv", "json": "json", "jsonl": "json", "parquet": "parquet",
                "txt": "text"}
KEYS = {"file_name", "formatting", "ranking", "subset", "split", "folder", "num_samples", "columns", "tags"}
SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                 "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}


def load_entry(dataset_dir: Path, info: dict, name: str, cache: Path) -> list[dict]:
    """Rows of entry `name` as LLaMA-Factory's converter gives them: {prompt, response, system}."""
    attr = info[name]
    assert set(attr) <= KEYS, set(attr) - KEYS
    local = dataset_dir / attr["file_name"]
    if local.is_dir():
        files = [local / f for f in os.listdir(local)]
    elif local.is_file():
        files = [local]
    else:
        raise ValueError(f"File {local} not found.")
    kinds = {FILEEXT2TYPE.get(f.suffix[1:]) for f in files}
    if None in kinds:
        raise ValueError("Allowed file types: " + ",".join(FILEEXT2TYPE))
    if len(kinds) != 1:
        raise ValueError("File types should be identical.")
    ds = datasets.load_dataset(kinds.pop(), data_files=[str(f) for f in files], split=attr.get("split", "train"),
                               cache_dir=str(cache))
    convert = _sharegpt if attr.get("formatting") == "sharegpt" else _alpaca
    return [convert(row, attr) for row in ds]


def _alpaca(row: dict, attr: dict) -> dict:
    cols = {"prompt": "instruction", "query": "input", "response": "output", **attr.get("columns", {})}
    prompt = []
    for old_q, old_a in (row.get(cols["history"]) or []) if cols.get("history") else []:
        prompt += [{"role": "user", "content": old_q}, {"role": "assistant", "content": old_a}]
    query = [row[cols[k]] for k in ("prompt", "query") if row.get(cols[k])]
    prompt.append({"role": "user", "content": "\n".join(query)})
    if attr.get("ranking"):
        assert isinstance(row[cols["chosen"]], str) and isinstance(row[cols["rejected"]], str), row
        response = [row[cols["chosen"]], row[cols["rejected"]]]
    else:
        response = [row[cols["response"]]]
    return {"prompt": prompt, "response": [{"role": "assistant", "content": r} for r in response],
            "system": row[cols["system"]] if cols.get("system") else ""}


def _sharegpt(row: dict, attr: dict) -> dict:
    cols = {"messages": "conversations", **attr.get("columns", {})}
    tags = {**SHAREGPT_TAGS, **attr.get("tags", {})}
    role, content = tags["role_tag"], tags["content_tag"]
    names = {tags["user_tag"]: "user", tags["assistant_tag"]: "assistant", tags["system_tag"]: "system"}
    messages = row[cols["messages"]]
    system = ""
    if messages and messages[0][role] == tags["system_tag"]:
        system, messages = messages[0][content], messages[1:]
    accept = ((tags["user_tag"], tags["observation_tag"]), (tags["assistant_tag"], tags["function_tag"]))
    for i, m in enumerate(messages):
        assert m[role] in accept[i % 2], f"Invalid role tag in {messages}"
    aligned = [{"role": names[m[role]], "content": m[content]} for m in messages]
    ranking = bool(attr.get("ranking"))
    assert len(aligned) % 2 == (1 if ranking else 0), f"Invalid message count in {messages}"
    if ranking:
        chosen, rejected = row[cols["chosen"]], row[cols["rejected"]]
        assert isinstance(chosen, dict) and isinstance(rejected, dict), "chosen/rejected must be one message each"
        assert chosen[role] in accept[1] and rejected[role] in accept[1]
        return {"prompt": aligned, "system": system,
                "response": [{"role": "assistant", "content": chosen[content]},
                             {"role": "assistant", "content": rejected[content]}]}
    return {"prompt": aligned[:-1], "response": aligned[-1:], "system": system}
