"""Text listings for `instructpipe sources` and `instructpipe ops`."""

from __future__ import annotations

from pydantic import BaseModel

from pipeline.adapters import ADAPTERS, get_adapter
from pipeline.catalog import catalog
from pipeline.ops import all_ops


def describe_params(model: type[BaseModel], skip: tuple[str, ...] = ()) -> list[str]:
    lines = []
    for name, f in model.model_fields.items():
        if name in skip:
            continue
        default = "required" if f.is_required() else f"default {f.get_default(call_default_factory=True)!r}"
        doc = f" - {f.description}" if f.description else ""
        lines.append(f"    {f.alias or name}: {default}{doc}")  # `from` is spelled `from_` in Python
    return lines


def list_sources() -> str:
    cat = catalog()
    out = []
    for name in ADAPTERS:
        adapter = get_adapter(name)
        entry = cat.get(name)
        out.append(f"{name}: {entry.description if entry else adapter.DESCRIPTION}")
        if entry:
            out.append(f"    license: {entry.license}")
            if entry.hub:
                out.append(f"    hub: {entry.hub}")
            if entry.formats:
                out.append(f"    formats: {entry.formats}")
        out += describe_params(adapter.Params)
    return "\n".join(out)


def list_ops() -> str:
    out = []
    for name, spec in sorted(all_ops().items()):
        inputs = f"{spec.min_inputs}+" if spec.max_inputs is None else f"{spec.min_inputs}-{spec.max_inputs}"
        out.append(f"{name} (v{spec.version}, inputs {inputs}{', LLM' if spec.uses_llm else ''}): {spec.doc}")
        out += describe_params(spec.params)
    return "\n".join(out)
