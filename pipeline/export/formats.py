"""Record shapes of each export format, and the LLaMA-Factory `dataset_info.json` entry for each.

- `messages`: `{"id", "messages": [{"role", "content"}]}` (TRL, axolotl `chat_template`,
  LLaMA-Factory sharegpt with OpenAI tags)
- `alpaca`: `instruction`, `input`, `output`, `history` [[q, a], ...] and `system` (LLaMA-Factory)
- `sharegpt`: `{"conversations": [{"from": "system"|"human"|"gpt", "value"}]}`
- `hf` / `parquet`: the `messages` shape, as a `save_to_disk` folder or parquet files
- `dpo`: TRL's conversational preference shape, `{"prompt": [messages up to the last user turn],
  "chosen": [assistant message], "rejected": [assistant message]}`, from `pairs` records
  (the rejected answer in `meta.rejected.content`)
"""

from __future__ import annotations

from pipeline.record import Record

FORMATS = ("messages", "alpaca", "sharegpt", "hf", "parquet", "dpo")
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


def shape(rec: Record, fmt: str, with_system: bool = False) -> dict:
    if fmt == "dpo":
        return to_dpo(rec)
    if fmt == "alpaca":
        return to_alpaca(rec, with_system)
    if fmt == "sharegpt":
        return to_sharegpt(rec)
    return to_messages(rec)


def dataset_info(fmt: str, file_name: str, with_system: bool) -> dict:
    """LLaMA-Factory `dataset_info.json` entry for a file of this format."""
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
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                     "assistant_tag": "assistant", "system_tag": "system"}}
