"""`attr_prompt`: AttrPrompt's attributed generation of labelled data (Yu et al. 2023, "Large Language
Model as Attributed Training Data Generator").

No inputs. For each attribute the LLM lists `values` values (`class_attributes` once per class,
the others once for all), ambiguous class-conditional values are filtered out, then `per_class`
texts per class are written, each under one randomly drawn value of every attribute. Writes
records `user`: the `instruction` and the text, `assistant`: the class label, with `meta.label`
and `meta.attributes`; the kept values go to `<stage>/attributes.yaml`. Rejects value lists that
cannot be read (`unparsable_values`), a value given for two classes (`ambiguous_value`), and texts
that failed (`llm_error`, `empty`, `refusal`, `incomplete`).
"""

from __future__ import annotations

import re
from typing import Iterator

import yaml
from pydantic import Field, model_validator

from pipeline.gen.lists import parse_task_list
from pipeline.llm.replies import raw_text
from pipeline.llm.types import AsyncAsk, Request
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.prompts import load_prompt
from pipeline.record import Record, Rejected
from pipeline.scoring.ask import in_order, reply_failure

PROMPTS = ("attrprompt_values", "attrprompt_generate")


class AttrParams(Params):
    classes: list[str] = Field(..., min_length=2, description="the class labels")
    task: str = Field("news article", min_length=2, description="what a text is (AttrPrompt: news article, review...)")
    attributes: list[str] = Field(["subtopic", "writing style", "length", "location"],
                                  description="attribute dimensions (AttrPrompt had the LLM propose them)")
    class_attributes: list[str] = Field(["subtopic"], description="attributes whose values depend on the class")
    values: int = Field(10, ge=2, description="values asked for per attribute (and class)")
    per_class: int = Field(5, ge=1, description="texts written per class")
    instruction: str | None = Field(None, description="the user turn before the text (default: classify among "
                                                      "the classes)")
    seed: int = 0
    temperature: float = Field(1.0, ge=0, le=2)
    max_tokens: int = Field(1024, ge=1)

    @model_validator(mode="after")
    def _check(self) -> "AttrParams":
        odd = [a for a in self.class_attributes if a not in self.attributes]
        if odd:
            raise ValueError(f"class_attributes {odd} are not among attributes {self.attributes}")
        return self


def _key(value: str) -> str:
    return re.sub(r"\W+", " ", value.lower()).strip()


def ambiguous(per_class: dict[str, list[str]]) -> set[str]:
    """Normalised values listed under two or more classes: AttrPrompt drops class-conditional
    values that do not single out their class."""
    seen: dict[str, set[str]] = {}
    for label, vals in per_class.items():
        for v in vals:
            seen.setdefault(_key(v), set()).add(label)
    return {k for k, labels in seen.items() if len(labels) > 1}


def value_jobs(p: AttrParams) -> list[tuple[str, str]]:
    """(attribute, class or '') of every value list to ask for, in a fixed order."""
    return [(a, c) for a in p.attributes for c in (p.classes if a in p.class_attributes else [""])]


def ask_all(ctx: StageContext, prompts: list[str], p: AttrParams) -> list:
    def workflows():
        for text in prompts:
            async def one(ask: AsyncAsk, text=text):
                return await ask(Request.chat([{"role": "user", "content": text}], temperature=p.temperature,
                                              max_tokens=p.max_tokens))
            yield one
    return list(in_order(ctx, workflows()))


def collect_values(ctx: StageContext, p: AttrParams) -> tuple[dict, list[Rejected]]:
    """{attribute: {class or '': [values]}} and the rejections of unreadable lists and ambiguous values."""
    prompt, jobs = load_prompt("attrprompt_values"), value_jobs(p)
    replies = ask_all(ctx, [prompt.render(n=p.values, attribute=a, task=p.task, label=c) for a, c in jobs], p)
    values: dict[str, dict[str, list[str]]] = {a: {} for a in p.attributes}
    dropped: list[Rejected] = []
    for (attr, label), reply in zip(jobs, replies):
        bad = reply.error or reply_failure(reply)
        items = [x.fields["instruction"] for x in parse_task_list(reply.text or "", 1, leading_is_item=False)
                 if x.ok] if not bad else []
        if not items:
            dropped.append(Rejected("unparsable_values", f"no {attr} values for {label or 'all classes'}",
                                    raw=raw_text(reply), where=f"{attr}/{label}"))
        values[attr][label] = items
    for attr in p.class_attributes:
        clash = ambiguous(values[attr])
        for label, vals in values[attr].items():
            for v in [v for v in vals if _key(v) in clash]:
                dropped.append(Rejected("ambiguous_value", f"{attr} {v!r} is listed for more than one class",
                                        raw=v, where=f"{attr}/{label}"))
            values[attr][label] = [v for v in vals if _key(v) not in clash]
    return values, dropped


def run(ctx: StageContext, inputs: list[StageInput], p: AttrParams) -> Iterator[Item]:
    values, dropped = collect_values(ctx, p)
    (ctx.stage_dir / "attributes.yaml").write_text(yaml.safe_dump(values, allow_unicode=True, sort_keys=False),
                                                   encoding="utf-8")
    for item in dropped:
        ctx.count("generated")
        yield item
    rng, prompt = ctx.rng(p.seed), load_prompt("attrprompt_generate")
    jobs = []
    for label in p.classes:
        for _ in range(p.per_class):
            pools = {a: values[a].get(label if a in p.class_attributes else "", []) for a in p.attributes}
            jobs.append((label, {a: rng.choice(v) for a, v in pools.items() if v}))
    texts = ask_all(ctx, [prompt.render(task=p.task, label=label, requirements=list(attrs.items()))
                          for label, attrs in jobs], p)
    question = p.instruction or (f"Which category does this {p.task} belong to: {', '.join(p.classes)}? "
                                 "Answer with the category only.")
    for (label, attrs), reply in zip(jobs, texts):
        ctx.count("generated")
        bad = reply.error or reply_failure(reply)
        if bad:
            yield Rejected("llm_error" if reply.error else bad.code, reply.error or bad.message,
                           raw=raw_text(reply), where=label)
            continue
        yield Record.new([{"role": "user", "content": f"{question}\n\n{reply.text.strip()}"},
                          {"role": "assistant", "content": label}],
                         {"source": "attr_prompt", "stage": ctx.stage_id, "label": label, "attributes": attrs,
                          "prompt": prompt.ref})


SPEC = OpSpec(
    name="attr_prompt", fn=run, params=AttrParams, version=1, min_inputs=0, max_inputs=0, uses_llm=True,
    prompts=PROMPTS,
    doc="AttrPrompt: LLM-written attribute values (class-conditional ones filtered for ambiguity), then "
        "labelled texts written under one drawn value per attribute.",
)
