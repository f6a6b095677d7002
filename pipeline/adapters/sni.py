"""Super-NaturalInstructions task files (final and early draft schema) and the HF hub form,
rendered Tk-Instruct style: definition, `k` positive examples, then the instance input.

One record per instance (its first non-empty output, or one per distinct output with
`all_outputs`). Task lists, language filters and `max_instances` select what is read;
they are counted (`tasks_excluded`, `skipped_*`), not rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from pydantic import Field

from pipeline.adapters.base import (AdapterParams, FieldError, Source, bad_line, fan_out, finish,
                                    put_meta, read_json_document, reject_row, text, text_list)
from pipeline.errors import InputError
from pipeline.jsonl import check_regular
from pipeline.ops.base import Item, StageContext
from pipeline.record import Rejected

NAME = "sni"
DESCRIPTION = "Super-NaturalInstructions task JSON files (taskNNN_*.json) or the HF hub form"

# Languages named in SNI `Input_language`; others are recorded as given, lower-cased.
LANG_CODES = {"english": "en", "chinese": "zh", "spanish": "es", "french": "fr", "german": "de",
              "japanese": "ja", "persian": "fa", "croatian": "hr", "estonian": "et", "tamil": "ta",
              "arabic": "ar", "hindi": "hi", "italian": "it", "portuguese": "pt", "russian": "ru",
              "korean": "ko", "dutch": "nl", "polish": "pl", "turkish": "tr", "vietnamese": "vi",
              "bengali": "bn", "marathi": "mr", "telugu": "te", "urdu": "ur", "thai": "th",
              "indonesian": "id", "swedish": "sv", "gujarati": "gu", "punjabi": "pa", "greek": "el"}


class Params(AdapterParams):
    k: int = Field(2, ge=0, description="positive examples shown before the instance (Tk-Instruct)")
    all_outputs: bool = Field(False, description="one record per distinct output, not just the first")
    max_instances: int | None = Field(None, ge=1, description="read at most this many instances per task")
    tasks: list[str] | None = Field(None, description="task names to read (default all)")
    tasks_file: str | None = Field(None, description="splits file listing the tasks to read")
    exclude_tasks: list[str] = Field(default_factory=list, description="task names to skip")
    exclude_tasks_file: str | None = Field(None, description="splits file listing tasks to skip")
    input_language: list[str] | None = Field(None, description="keep tasks whose Input_language is one of these")
    output_language: list[str] | None = Field(None, description="keep tasks whose Output_language is one of these")


def read(src: Source, params: Params, ctx: StageContext) -> Iterator[Item]:
    wanted, unwanted = task_lists(params)
    if src.hub:
        rows = src.rows(select=hub_selector(params, wanted, unwanted))
        for where, row in rows:
            yield bad_line(where, row) or from_hub_row(row, where, params, src)
        return
    for where, row in src.taken(instance_rows(src, params, wanted, unwanted, ctx)):
        bad = bad_line(where, row)
        if bad:
            yield bad
            continue
        task, index, inst = row
        yield from fan_out(ctx, convert(task, index, inst, where, params, src))


def task_lists(p: Params) -> tuple[set[str] | None, set[str]]:
    wanted = set(p.tasks) if p.tasks is not None else None
    if p.tasks_file:
        wanted = (wanted or set()) | read_task_list(Path(p.tasks_file))
    unwanted = set(p.exclude_tasks)
    if p.exclude_tasks_file:
        unwanted |= read_task_list(Path(p.exclude_tasks_file))
    return wanted, unwanted


def read_task_list(path: Path) -> set[str]:
    """A `splits/*/..._tasks.txt` file: one task name per line."""
    check_regular(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read task list: {e}") from None
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def instance_rows(src: Source, p: Params, wanted: set[str] | None, unwanted: set[str],
                  ctx: StageContext) -> Iterator[tuple[str, Any]]:
    """`(where, (task, index, instance))` for every instance of every selected task file."""
    for path in src.files({".json"}):
        name = path.stem
        if (wanted is not None and name not in wanted) or name in unwanted:
            ctx.count("tasks_excluded")
            continue
        try:
            task = src.repaired(read_json_document(path))
        except InputError as e:
            if not src.lenient:
                raise
            yield str(path), Rejected("bad_json", str(e), where=str(path))
            continue
        instances = task.get("Instances") if isinstance(task, dict) else None
        if not isinstance(instances, list):
            field = "Instances" if isinstance(task, dict) else "task"
            yield str(path), Rejected(f"bad_schema:{field}", f"{path}: expected a task object with an "
                                      "Instances list", where=str(path))
            continue
        skip = language_mismatch(task, p)
        if skip:
            ctx.count(f"tasks_skipped_{skip}")
            continue
        ctx.count("tasks_read")
        task["_name"] = name
        for i, inst in enumerate(instances):
            ctx.count("rows_seen")
            if p.max_instances is not None and i >= p.max_instances:
                ctx.count("skipped_max_instances")
                continue
            yield f"{path}:Instances[{i}]", (task, i, inst)


def language_mismatch(task: dict, p: Params) -> str | None:
    for field, allowed in (("Input_language", p.input_language), ("Output_language", p.output_language)):
        if allowed is None:
            continue
        langs = task.get(field) if isinstance(task.get(field), list) else [task.get(field)]
        if not set(allowed) & {x for x in langs if isinstance(x, str)}:
            return field.lower()
    return None


def convert(task: dict, index: int, inst: Any, where: str, p: Params, src: Source) -> list[Item]:
    try:
        definition = task_definition(task)
        examples = positive_examples(task, p.k)
        if not isinstance(inst, dict):
            raise FieldError(f"Instances[{index}]", f"expected an object, got {type(inst).__name__}")
        x = instance_input(inst, index)
        outputs = output_list(inst, index)
    except FieldError as err:
        return [reject_row(where, inst, err)]
    meta = task_meta(task, src.label)
    put_meta(meta, "orig_id", inst.get("id") or f"{task['_name']}-{index}")
    return records(render(definition, examples, x), outputs, meta, where, inst, p)


def records(prompt: str, outputs: list[str], meta: dict, where: str, raw: Any, p: Params) -> list[Item]:
    answers = [o.strip() for o in outputs if o.strip()]
    if not answers:
        return [Rejected("empty_output", "no non-empty output", raw=raw, where=where)]
    chosen = list(dict.fromkeys(answers)) if p.all_outputs else answers[:1]
    return [finish([{"role": "user", "content": prompt}, {"role": "assistant", "content": a}],
                   dict(meta), where) for a in chosen]


def task_definition(task: dict) -> str:
    """Final schema: a list (first item used, as Tk-Instruct does); draft schema: a text."""
    items = text_list(task, "Definition")
    return items[0] if items else ""


def positive_examples(task: dict, k: int) -> list[tuple[str, str]]:
    raw = task.get("Positive Examples") or []
    if not isinstance(raw, list):
        raise FieldError("Positive Examples", f"expected a list, got {type(raw).__name__}")
    out = []
    for i, ex in enumerate(raw[:k]):
        if not isinstance(ex, dict):
            raise FieldError(f"Positive Examples[{i}]", "expected an object")
        try:
            out.append((text(ex, "input", required=True), text(ex, "output", required=True)))
        except FieldError as err:
            raise FieldError(f"Positive Examples[{i}].{err.field}", str(err).split(": ", 1)[-1]) from None
    return out


def instance_input(inst: dict, index: int) -> str:
    try:
        return text(inst, "input", required=True)
    except FieldError as err:
        raise FieldError(f"Instances[{index}].input", str(err).split(": ", 1)[-1]) from None


def output_list(inst: dict, index: int) -> list[str]:
    """Rule: a single text output counts as a one-item list; numbers become text."""
    raw = inst.get("output")
    if raw is None:
        raise FieldError(f"Instances[{index}].output", "missing")
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for j, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise FieldError(f"Instances[{index}].output[{j}]", f"expected text, got {type(item).__name__}")
        out.append(str(item))
    return out


def render(definition: str, examples: list[tuple[str, str]], x: str) -> str:
    """Tk-Instruct encoding (ASCII hyphens; no punctuation is added to the data)."""
    parts = [f"Definition: {definition.strip()}\n\n"] if definition.strip() else []
    for i, (ex_in, ex_out) in enumerate(examples, start=1):
        parts.append(f"Positive Example {i} -\nInput: {ex_in.strip()}\nOutput: {ex_out.strip()}\n\n")
    parts.append(f"Now complete the following example -\nInput: {x.strip()}\nOutput:")
    return "".join(parts)


def task_meta(task: dict, label: str) -> dict:
    meta: dict = {"source": label, "task": task["_name"]}
    for field, key in (("Categories", "category"), ("Input_language", "lang")):
        value = task.get(field)
        first = value[0] if isinstance(value, list) and value else value
        if isinstance(first, str) and first:
            meta[key] = LANG_CODES.get(first.lower(), first.lower()) if key == "lang" else first
    lic = task.get("Instance License")
    if isinstance(lic, list) and lic and all(isinstance(x, str) for x in lic):
        meta["license"] = "; ".join(lic)
    return meta


def hub_selector(p: Params, wanted: set[str] | None, unwanted: set[str]):
    per_task: dict[str, int] = {}

    def select(row: Any) -> str | None:
        name = row.get("task_name") if isinstance(row, dict) else None
        if not isinstance(name, str):
            return None
        if (wanted is not None and name not in wanted) or name in unwanted:
            return "task_list"
        per_task[name] = per_task.get(name, 0) + 1
        return "max_instances" if p.max_instances and per_task[name] > p.max_instances else None

    return select


def from_hub_row(row: Any, where: str, p: Params, src: Source) -> Item:
    """HF form (`task_name`, `id`, `definition`, `inputs`, `targets`): no examples to show."""
    try:
        if not isinstance(row, dict):
            raise FieldError("row", f"expected an object, got {type(row).__name__}")
        definition = text(row, "definition")
        x = text(row, "inputs", required=True)
        target = text(row, "targets", required=True)
        name = text(row, "task_name")
    except FieldError as err:
        return reject_row(where, row, err)
    meta: dict = {"source": src.label}
    put_meta(meta, "task", name)
    put_meta(meta, "orig_id", row.get("id"))
    return records(render(definition, [], x), [target], meta, where, row, p)[0]
