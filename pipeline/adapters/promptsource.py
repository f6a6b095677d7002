"""PromptSource `templates.yaml` applied to the rows of a dataset (local file or hub id).

Rendering follows promptsource's `Template.apply` in a sandboxed Jinja environment: every
`}}` gets `| string | truncate(2048)`, `|||` inside row values is protected, `answer_choices`
is rendered and split on `|||`, then the template is split into prompt and target.
Templates without a target are skipped; a template failing on a row rejects that pair.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SecurityError
from pydantic import Field

from pipeline import safe_yaml
from pipeline.adapters.base import AdapterParams, Source, bad_line, fan_out, finish, put_meta
from pipeline.adapters.template_budget import BudgetedSandbox
from pipeline.errors import ConfigError, InputError
from pipeline.jsonl import check_regular
from pipeline.safe_yaml import BoundedLoader
from pipeline.ops.base import Item, StageContext
from pipeline.record import Rejected

NAME = "promptsource"
DESCRIPTION = "PromptSource templates.yaml applied to a dataset's rows (sandboxed Jinja)"
TEXT_VAR_LENGTH = 2048
PIPE_PROTECTOR = "3ed2dface8203c4c9dfb1a5dc58e41e0"


class Params(AdapterParams):
    templates: str = Field(description="path to a promptsource templates.yaml")
    template_names: list[str] | None = Field(None, description="use only these templates (by name)")
    templates_per_row: int | None = Field(None, ge=1, description="N templates chosen per row (seeded); default all")
    template_seed: int = Field(0, description="seed for choosing templates per row")
    template_timeout: float = Field(5.0, gt=0, description="seconds one render may take (else template_error)")
    template_max_chars: int = Field(100_000, ge=1, description="largest text one render may make (else template_error)")


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    jinja: str
    answer_choices: str | None


class _Loader(BoundedLoader):
    """SafeLoader that reads promptsource's `!Template` / `!TemplateMetadata` tags as mappings."""


for _tag in ("!Template", "!TemplateMetadata"):
    _Loader.add_constructor(_tag, lambda loader, node: loader.construct_mapping(node, deep=True))


def load_templates(path: Path) -> tuple[str, list[Template]]:
    """The dataset name (`dataset[/subset]`) and the templates of a templates.yaml, file order."""
    check_regular(path)
    try:
        doc = safe_yaml.load(path.read_text(encoding="utf-8-sig"), _Loader)
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read templates: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise InputError(f"{path}{at}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("templates"), dict):
        raise InputError(f"{path}: templates: expected a mapping of template id -> !Template")
    dataset = "/".join(str(doc[k]) for k in ("dataset", "subset") if doc.get(k))
    out = []
    for key, raw in doc["templates"].items():
        if not isinstance(raw, dict) or not isinstance(raw.get("jinja"), str):
            raise InputError(f"{path}: templates.{key}.jinja: missing or not text")
        choices = raw.get("answer_choices")
        if isinstance(choices, list):  # older files list the choices; same meaning
            choices = " ||| ".join(str(c) for c in choices)
        if choices is not None and not isinstance(choices, str):
            raise InputError(f"{path}: templates.{key}.answer_choices: expected text or a list")
        out.append(Template(str(raw.get("id", key)), str(raw.get("name", key)), raw["jinja"], choices))
    return dataset, out


class Renderer:
    """A sandboxed Jinja environment (strict: a missing field is an error) with compiled templates
    cached, plus promptsource's extra filters `choice` (seeded) and `most_frequent`."""

    def __init__(self, rng: random.Random, *, max_chars: int = 100_000, timeout: float = 5.0):
        self.env = BudgetedSandbox(max_chars=max_chars, timeout=timeout, undefined=StrictUndefined,
                                   keep_trailing_newline=True)
        self.env.filters["choice"] = lambda seq: rng.choice(list(seq))
        self.env.filters["most_frequent"] = lambda seq: Counter(seq).most_common(1)[0][0] if seq else ""
        self._compiled: dict[str, Any] = {}

    def render(self, source: str, values: dict) -> str:
        if source not in self._compiled:
            self._compiled[source] = self.env.from_string(source)
        return self.env.render_within_budget(self._compiled[source], values)


def protect(row: dict) -> dict:
    return {k: v.replace("|||", PIPE_PROTECTOR) if isinstance(v, str) else v for k, v in row.items()}


def apply(env: Renderer, tpl: Template, row: dict) -> list[str]:
    """promptsource's `apply`: the rendered parts (prompt, target) with pipes restored, stripped."""
    if "answer_choices" in row:
        raise ValueError("the row has a field named 'answer_choices', which templates reserve")
    example = protect(row)
    if tpl.answer_choices is not None:
        rendered = env.render(tpl.answer_choices, example)
        example["answer_choices"] = [c.replace(PIPE_PROTECTOR, "|||").strip() for c in rendered.split("|||")]
    else:
        example["answer_choices"] = None
    jinja = tpl.jinja.replace("}}", f" | string | truncate({TEXT_VAR_LENGTH}) }}}}")
    rendered = env.render(jinja, example)
    return [part.replace(PIPE_PROTECTOR, "|||").strip() for part in rendered.split("|||")]


def read(src: Source, params: Params, ctx: StageContext) -> Iterator[Item]:
    dataset, templates = load_templates(Path(params.templates))
    usable = [t for t in templates if "|||" in t.jinja]
    ctx.count("templates_without_target", len(templates) - len(usable))
    if params.template_names is not None:
        unknown = sorted(set(params.template_names) - {t.name for t in templates})
        if unknown:
            raise ConfigError(f"promptsource: template_names {unknown} not in {params.templates}")
        usable = [t for t in usable if t.name in params.template_names]
    if not usable:
        raise ConfigError(f"promptsource: {params.templates} has no usable template with a target")
    rng = random.Random(params.template_seed)
    env = Renderer(rng, max_chars=params.template_max_chars, timeout=params.template_timeout)
    for where, row in src.rows():
        bad = bad_line(where, row)
        if bad or not isinstance(row, dict):
            yield bad or Rejected("bad_schema:row", f"expected an object, got {type(row).__name__}",
                                  raw=row, where=where)
            continue
        chosen = usable if params.templates_per_row is None or params.templates_per_row >= len(usable) \
            else rng.sample(usable, params.templates_per_row)
        yield from fan_out(ctx, [render_row(env, t, row, where, dataset, src) for t in chosen])


def render_row(env: Renderer, tpl: Template, row: dict, where: str,
               dataset: str, src: Source) -> Item:
    extra = {"template": tpl.name}
    try:
        parts = apply(env, tpl, row)
    except (TemplateError, SecurityError, ValueError, TypeError, LookupError, AttributeError) as e:
        return Rejected("template_error", f"template {tpl.name!r}: {type(e).__name__}: {e}",
                        raw=row, where=where, extra=extra)
    if len(parts) < 2 or not parts[1]:
        return Rejected("no_target", f"template {tpl.name!r} gave no target for this row",
                        raw=row, where=where, extra=extra)
    if not parts[0]:
        return Rejected("empty_instruction", f"template {tpl.name!r} gave an empty prompt",
                        raw=row, where=where, extra=extra)
    meta = {"source": src.label, "template": tpl.name, "template_id": tpl.id}
    put_meta(meta, "task", dataset)
    put_meta(meta, "orig_id", row.get("id", row.get("idx")))
    return finish([{"role": "user", "content": parts[0]}, {"role": "assistant", "content": parts[1]}],
                  meta, where)
