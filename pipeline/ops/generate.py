"""`generate`: an LLM stage written in a recipe: a prompt file, sampling parameters, an optional
JSON schema for the reply, and where the reply's fields go.

Each input record renders the prompt (strict template; record text goes in as data), is asked
`n` times (sample index in the request key), and each usable reply becomes a new record, a turn
appended to the record, or fields in its `meta` (see `pipeline/generate/mapping.py`). With
`response_format` the reply is validated against the schema here, whatever the endpoint does;
an unusable reply is asked again (the conversation goes on with a short correction), then
rejected with every raw reply kept. Rejects: `llm_error`, `empty`, `refusal`, `incomplete`,
`bad_json`, `bad_schema`, `missing_field`, `bad_field`. Output is in input order.
"""

from __future__ import annotations

import re
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Iterator

from pydantic import Field, field_validator, model_validator

from pipeline.errors import ConfigError
from pipeline.generate.mapping import TEXT, OutputMap, build, check_fields
from pipeline.generate.schema import LEVELS, SchemaCheck, check_schema, load_schema, response_format, \
    schema_instruction
from pipeline.llm.parsing import OutputError
from pipeline.llm.types import AsyncAsk, Reply
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.prompts import Prompt, load_prompt
from pipeline.record import Record, Rejected
from pipeline.scoring.ask import Outcome, ask_parsed, in_order, reask_limit
from pipeline.scoring.parse import Failure

REASK_PROMPT = "generate_reask"
SAMPLING = ("temperature", "top_p", "max_tokens", "seed", "stop", "presence_penalty", "frequency_penalty")
_FORMAT_ERROR = re.compile(r"response_format|json_schema|json_object|schema", re.I)
# What a prompt file may name in its `variables`.
VARIABLES = ("instruction", "response", "last_user", "system", "conversation", "messages", "meta")


class GenerateParams(Params):
    prompt: str = Field(description="prompt file (.md with name/version/variables front matter); variables: "
                                    + ", ".join(VARIABLES))
    system: str | None = Field(None, description="system message sent before the prompt")
    n: int = Field(1, ge=1, le=64, description="samples per record (each its own request and output)")
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    seed: int | None = None
    stop: list[str] | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    response_format: dict | str | None = Field(
        None, description="JSON schema of the reply, inline or a .json/.yaml file; validated on our side")
    schema_name: str = Field("reply", pattern=r"^[A-Za-z0-9_-]{1,64}$",
                             description="name sent with the schema")
    output: OutputMap | None = Field(None, description="where fields go: user/assistant/system (a new record), "
                                                       "append (a new turn) and meta; default: append text")
    reasks: int | None = Field(None, ge=0, description="re-asks of an unusable reply (default: llm.max_reasks)")

    @field_validator("prompt")
    @classmethod
    def _prompt_file(cls, v: str) -> str:
        template = prompt_file(v)
        unknown = [x for x in template.variables if x not in VARIABLES]
        if unknown:
            raise ValueError(f"{v}: unknown template variables {unknown} (known: {', '.join(VARIABLES)})")
        undeclared = sorted(used_variables(template) - set(template.variables))
        if undeclared:
            raise ValueError(f"{v}: the template uses {undeclared}, which its front matter does not declare "
                             f"(variables: {list(template.variables)})")
        return v

    @model_validator(mode="after")
    def _fields_exist(self) -> "GenerateParams":
        schema = None
        if self.response_format is not None:
            try:
                schema = load_schema(self.response_format)
            except ConfigError as e:
                raise ValueError(str(e)) from None
            check_schema(schema)
        out = self.output or OutputMap(append=TEXT)
        known = set((schema or {}).get("properties") or {}) if schema is not None else {TEXT}
        for name in out.fields():
            top = name.split(".")[0]
            if (schema is None or known) and top not in known:
                raise ValueError(f"output: field {name!r} is not in the reply "
                                 f"(fields: {', '.join(sorted(known)) or 'none'})")
        if out.mode == "annotate" and self.n > 1:
            raise ValueError("n > 1 needs output.user or output.append (meta-only output annotates "
                             "the one input record)")
        return self

    @property
    def mapping(self) -> OutputMap:
        return self.output or OutputMap(append=TEXT)

    @cached_property
    def schema(self) -> dict | None:
        return load_schema(self.response_format) if self.response_format is not None else None


def prompt_file(path: str) -> Prompt:
    p = Path(path)
    if p.suffix != ".md":
        raise ValueError(f"{path}: a prompt file is a .md file with front matter")
    try:
        return load_prompt(p.stem, p.parent)
    except ConfigError as e:
        raise ValueError(str(e)) from None


def used_variables(template: Prompt) -> set[str]:
    """Names the template body reads; a syntax error names its line in the file."""
    from jinja2 import TemplateSyntaxError, meta
    from jinja2.sandbox import SandboxedEnvironment

    try:
        ast = SandboxedEnvironment().parse(template.body)
    except TemplateSyntaxError as e:
        offset = template.path.read_text(encoding="utf-8").count("\n") - template.body.count("\n")
        raise ValueError(f"{template.path}:{(e.lineno or 1) + offset}: template error: {e.message}") from None
    return set(meta.find_undeclared_variables(ast))


def transcript(rec: Record) -> str:
    names = {"system": "System", "user": "User", "assistant": "Assistant"}
    return "\n\n".join(f"{names[m['role']]}: {m['content']}" for m in rec.messages)


def render(template: Prompt, rec: Record) -> str:
    """The prompt for one record; only the variables the file declares are given."""
    users = rec.turns("user")
    values: dict[str, Any] = {
        "instruction": lambda: rec.instruction, "response": lambda: rec.response,
        "last_user": lambda: users[-1] if users else "", "system": lambda: rec.system or "",
        "conversation": lambda: transcript(rec), "messages": lambda: rec.messages, "meta": lambda: rec.meta}
    return template.render(**{name: values[name]() for name in template.variables})


class Plan:
    """What every request of the stage shares, and the fallback level reached so far."""

    def __init__(self, ctx: StageContext, p: GenerateParams):
        self.p, self.ctx = p, ctx
        self.template = prompt_file(p.prompt)
        self.check = SchemaCheck(p.schema) if p.schema is not None else None
        self.level = 0
        self.reasks = reask_limit(ctx, p.reasks)
        self.sampling = {k: getattr(p, k) for k in SAMPLING if getattr(p, k) is not None}

    def messages(self, text: str, level: int) -> list[dict]:
        if self.check is not None and LEVELS[level] != "json_schema":
            text += schema_instruction(self.check.schema)
        system = [{"role": "system", "content": self.p.system}] if self.p.system else []
        return system + [{"role": "user", "content": text}]

    def params(self, level: int, sample: int) -> dict:
        params = dict(self.sampling, sample=sample)
        if self.check is not None:
            fmt = response_format(self.check.schema, LEVELS[level], self.p.schema_name)
            if fmt is not None:
                params["response_format"] = fmt
        return params

    def parse(self, reply: Reply) -> Any:
        try:
            value = self.check.parse(reply.text) if self.check is not None else {TEXT: reply.text.strip()}
            check_fields(self.p.mapping, value)
        except OutputError as e:
            return Failure(e.reason, e.detail)
        return value

    async def ask(self, ask: AsyncAsk, rec: Record, sample: int) -> Outcome:
        """Ask (with re-asks); an endpoint refusing the response format gets the next fallback.

        A 400 naming the format moves the whole stage on (later records skip the refused level);
        any other 400 moves only this record on, and is final once no fallback is left."""
        text, level = render(self.template, rec), self.level
        while True:
            out = await ask_parsed(ask, self.messages(text, level), self.parse, REASK_PROMPT, self.reasks,
                                   **self.params(level, sample))
            refused = out.failure is not None and out.failure.code == "llm_error" and not out.raw
            if not (refused and self.check is not None and level + 1 < len(LEVELS)):
                return out
            if _FORMAT_ERROR.search(out.failure.message) and self.level <= level:
                self.level = level + 1
                self.ctx.count("response_format_fallbacks")
            level = max(level + 1, self.level)


def outcome_item(rec: Record, out: Outcome, p: GenerateParams, sample: int, plan: Plan) -> Item:
    extra = {"sample": sample} if p.n > 1 else {}
    if not out.ok:
        return Rejected(out.failure.code, out.failure.message, record=rec, extra={**extra, "raw": out.raw})
    if p.mapping.mode == "annotate":
        return build(rec, p.mapping, out.value, {})
    model = (out.reply.raw or {}).get("model") if out.reply is not None else None
    meta = {"stage": plan.ctx.stage_id, "model": model or "", "prompt": plan.template.ref, **extra}
    return build(rec, p.mapping, out.value, meta)


def run(ctx: StageContext, inputs: list[StageInput], p: GenerateParams) -> Iterator[Item]:
    plan = Plan(ctx, p)

    async def one(rec: Record, sample: int, ask: AsyncAsk) -> Item:
        return outcome_item(rec, await plan.ask(ask, rec, sample), p, sample, plan)

    def workflows():
        for inp in inputs:
            for rec in inp:
                if p.mapping.mode == "new":
                    ctx.count("consumed")
                    ctx.count("generated", p.n)
                else:
                    ctx.count("generated", p.n - 1)
                for sample in range(p.n):
                    yield partial(one, rec, sample)

    yield from in_order(ctx, workflows())


def sharding(p: GenerateParams) -> str:
    """Per record, unless a reply schema may be refused: the fallback is then learnt stage-wide."""
    return "record" if p.response_format is None else "global"


SPEC = OpSpec(
    name="generate", fn=run, params=GenerateParams, version=1, min_inputs=1, uses_llm=True, sharding=sharding,
    path_params=("prompt", "response_format"), prompts=(REASK_PROMPT,),
    doc="Your own LLM step: a prompt file, sampling, n, an optional JSON schema validated on our side "
        "(re-asked, with fallbacks for endpoints that refuse it), and a mapping of reply fields to a new "
        "record, a new turn or meta.",
)
