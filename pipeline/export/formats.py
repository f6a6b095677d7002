"""Record shapes of each export format, and the LLaMA-Factory `dataset_info.json` entry for each.

- `messages`: `{"id", "messages": [{"role", "content"}]}` (TRL, axolotl `chat_template`,
  LLaMA-Factory sharegpt with OpenAI tags)
- `alpaca`: `instruction`, `input`, `output`, `history` [[q, a], ...] and `system` (LLaMA-Factory)
- `sharegpt`: `{"conversations": [{"from": "system"|"human"|"gpt", "value"}]}`
- `hf` / `parquet`: the `messages` shape, as a `save_to_disk` folder or parquet files
- `dpo`: TRL's conversational preference shape, `{"prompt": [messages up to the last user turn],
  "chosen": [assistant message], "rejected": [assistant message]}`, from `pairs` records
  (the rejected answer in `meta.rejected.content`); beside it `<split>_llamafactory.jsonl` in the
  shape LLaMA-Factory's `ranking` entries read: `{"messages": [...], "chosen": {message},
  "rejected": {message}}` (one message each, not a list)

`dataset_info.json` names one entry per split: `<name>` (train) and `<name>_validation`, because
LLaMA-Factory loads every local file of an entry into its train split; use the second one as
`eval_dataset`. An `hf` export gets no entry: LLaMA-Factory cannot read a `save_to_disk` folder
(its files are of mixed types).
"""

from __future__ import annotations

from pipeline.record import Record

FORMATS = ("messages", "alpaca", "sharegpt", "hf", "parquet", "dpo")
OPENAI_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
               "system_tag": "system"}
SHAREGPT_ROLE = {"system": "system", "user": "human", "assistant": "gpt"}


def to_messages(rec: Record) -> dict:
    return {"id": rec.id, "messages": [{"role": m["role"], "content": m["content"]} for m in rec.messages]}


def pairs(rec: Record) -> list[tuple[str, str]]:
    turns = [m for m in rec.messages if m["role"] != "system"]
    return [(turns[i]["content"], turns[i + 1]["content"]) for i in range(0, len(turns) - 1, 2)]


def to_alpaca(rec: Record, with_system: bool) -> dict:
    qa = pairs(rec)
    out = {"instruction": qa[-1][0], "input": "", "output": qa[-1][1],
           "history": [[q, a] for q, a in qa[:-1]]}
    if with_system:
        out["system"] = rec.system or ""
    return out


def to_sharegpt(rec: Record) -> dict:
    return {"conversations": [{"from": SHAREGPT_ROLE[m["role"]], "value": m["content"]}
                              for m in rec.messages]}


def rejected_answer(rec: Record) -> str | None:
    """The rejected answer of a preference record (`pairs`), or None."""
    rejected = rec.meta.get("rejected")
    content = rejected.get("content") if isinstance(rejected, dict) else None
    return content if isinstance(content, str) and content.strip() else None


def to_dpo(rec: Record) -> dict:
    prompt = [{"role": m["role"], "content": m["content"]} for m in rec.messages[:-1]]
    return {"prompt": prompt, "chosen": [{"role": "assistant", "content": rec.response}],
            "rejected": [{"role": "assistant", "content": rejected_answer(rec)}]}


def to_llamafactory_pair(rec: Record) -> dict:
    prompt = [{"role": m["role"], "content": m["content"]} for m in rec.messages[:-1]]
    return {"messages": prompt, "chosen": {"role": "assistant", "content": rec.response},
            "rejected": {"role": "assistant", "content": rejected_answer(rec)}}


def shape(rec: Record, fmt: str, with_system: bool = False) -> dict:
    if fmt == "dpo":
        return to_dpo(rec)
    if fmt == "llamafactory_dpo":
        return to_llamafactory_pair(rec)
    if fmt == "alpaca":
        return to_alpaca(rec, with_system)
    if fmt == "sharegpt":
        return to_sharegpt(rec)
    return to_messages(rec)


def dataset_info_entries(name: str, fmt: str, files: dict[str, str], with_system: bool) -> dict:
    """LLaMA-Factory `dataset_info.json`: one entry per split (`files`: split -> file name)."""
    return {name if split == "train" else f"{name}_{split}": dataset_info(fmt, file_name, with_system)
            for split, file_name in files.items()}


def dataset_info(fmt: str, file_name: str, with_system: bool) -> dict:
    """LLaMA-Factory `dataset_info.json` entry for a file of this format."""
    if fmt in ("dpo", "llamafactory_dpo"):
        return {"file_name": file_name, "formatting": "sharegpt", "ranking": True,
                "columns": {"messages": "messages", "chosen": "chosen", "rejected": "rejected"},
                "tags": OPENAI_TAGS}
    if fmt == "alpaca":
        columns = {"prompt": "instruction", "query": "input", "response": "output", "history": "history"}
        if with_system:
            columns["system"] = "system"
        return {"file_name": file_name, "columns": columns}
    if fmt == "sharegpt":
        return {"file_name": file_name, "formatting": "sharegpt", "columns": {"messages": "conversations"},
                "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                         "assistant_tag": "gpt", "system_tag": "system"}}
    return {"file_name": file_name, "formatting": "sharegpt", "columns": {"messages": "messages"},
            "tags": OPENAI_TAGS}
