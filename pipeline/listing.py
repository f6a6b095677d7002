"""Text listings for `instructpipe sources` and `instructpipe ops`."""

from __future__ import annotations

from pydantic import BaseModel

from pipeline.adapters import ADAPTERS, get_adapter
from pipeline.catalog import catalog
from pipeline.ops import all_ops, get_op


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


# The README's op tables, in the same order: what a user looks for first is the purpose.
OP_GROUPS = (
    ("Reading and mixing", ("ingest", "mix")),
    ("Deduplication and filtering", ("dedup_exact", "dedup_minhash", "dedup_semantic", "rouge_novelty",
                                     "filter", "decontaminate")),
    ("Answering and scoring with an LLM", ("respond", "generate", "judge", "score_deita", "tag", "pairs")),
    ("Selection", ("select", "ifd", "instag_sample", "ifd_experience", "lima", "ifs", "instruction_mining",
                   "edu_value")),
    ("Review by people", ("review",)),
    ("Conversations and other languages", ("self_chat", "role_play", "ultrachat_openings", "user_sim",
                                           "self_refine", "translate", "interactive_translate", "langid")),
    ("Generating data", ("self_instruct", "alpaca_instruct", "evol_instruct", "evol_code", "guided_instruct",
                         "unnatural_instruct", "lamini_instruct", "attr_prompt")),
    ("Export", ("export",)),
)


def _op_lines(name: str, indent: str = "") -> list[str]:
    spec = all_ops()[name]
    inputs = f"{spec.min_inputs}+" if spec.max_inputs is None else f"{spec.min_inputs}-{spec.max_inputs}"
    plugin = f", plugin {spec.package} {spec.package_version}" if spec.package else ""
    head = f"{indent}{name} (v{spec.version}, inputs {inputs}{', LLM' if spec.uses_llm else ''}{plugin}): {spec.doc}"
    return [head] + [indent + line for line in describe_params(spec.params)]


def list_ops() -> str:
    ops = all_ops()
    grouped = {name for _, names in OP_GROUPS for name in names}
    groups = [(title, [n for n in names if n in ops]) for title, names in OP_GROUPS]
    rest = sorted(set(ops) - grouped)
    groups.append(("Plugins", [n for n in rest if ops[n].package]))
    groups.append(("Other", [n for n in rest if not ops[n].package]))  # an op added without a group still shows
    out = []
    for title, names in groups:
        if names:
            out += [f"{title}:"] + [line for name in names for line in _op_lines(name, "  ")] + [""]
    from pipeline.ops import PLUGIN_PROBLEMS

    out += [f"left out: {why}" for why in PLUGIN_PROBLEMS.values()]
    return "\n".join(out).rstrip() + "\n\nOne op with its parameters: instructpipe ops NAME"


def describe_op(name: str) -> str:
    """One op's line and parameters; an unknown name is a ConfigError with the closest match."""
    get_op(name)
    return "\n".join(_op_lines(name))
