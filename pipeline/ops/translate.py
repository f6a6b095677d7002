"""`translate`: Bactrian-X / Phoenix-style multilingual data. Translate each record's instruction
turns (and system message) into target languages, then answer natively in the target language,
or (`response: translate`) translate the record's answers too.

Targets: a fixed list (every record into every language) or languages drawn per record by
weight. Code blocks, URLs and placeholders are swapped for markers before translation and must
all come back. Writes one record per (record, target) with `meta.lang`, `meta.source_lang` and
`meta.parents`. Rejects `placeholders_lost`, `wrong_language` (the text came back in another
language), `unknown_source_language`, `llm_error` and bad replies (after re-asks), raw text kept.
"""

from __future__ import annotations

import asyncio
import random
from functools import partial
from typing import Iterator, Literal

from pydantic import Field, model_validator

from pipeline.chat import translation
from pipeline.chat.identify import identify
from pipeline.chat.languages import base, check_code, name_of
from pipeline.chat.protect import restore
from pipeline.chat.talk import Talk, checked, other_endpoint, reasks_of, run_all
from pipeline.errors import ConfigError
from pipeline.llm.settings import LLMSettings
from pipeline.llm.types import AsyncAsk
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.prompts import load_prompt
from pipeline.record import Record, Rejected


class TranslateParams(Params):
    languages: list[str] = Field(default_factory=list, description="translate every record into each")
    weights: dict[str, float] = Field(default_factory=dict, description="language -> weight, drawn per record")
    per_record: int = Field(1, ge=1, description="with weights: languages drawn per record")
    seed: int = 0
    source_lang: str | None = Field(None, description="default: meta.lang, else identified")
    response: Literal["native", "translate"] = Field("native", description="answer natively or translate answers")
    check_lang: bool = Field(True, description="reject text that comes back in another language")
    respond_hint: bool = Field(True, description="tell the answering model which language to use")
    language_names: dict[str, str] = Field(default_factory=dict, description="code -> name for prompts")
    translator: LLMSettings | None = Field(
        None, description="a machine-translation model or endpoint for the translations (keys override the "
                          "stage's llm:); answers still come from the stage's model")
    translator_prompt: Literal["instruct", "text_only"] = Field(
        "instruct", description="instruct: our translation prompt; text_only: the text alone after a one-line "
                                "system message naming the languages (for dedicated MT models)")

    @model_validator(mode="after")
    def _check(self) -> "TranslateParams":
        if bool(self.languages) == bool(self.weights):
            raise ValueError("give either `languages` or `weights`")
        if self.weights and (any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0):
            raise ValueError("weights must be non-negative and not all zero")
        if self.weights and self.per_record > sum(1 for w in self.weights.values() if w > 0):
            raise ValueError("per_record is larger than the number of weighted languages")
        try:
            for code in [*self.languages, *self.weights, *([self.source_lang] if self.source_lang else [])]:
                check_code(code, self.language_names)
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return self


def targets(rec: Record, p: TranslateParams) -> list[str]:
    """The record's target languages: the list, or `per_record` drawn by weight (seeded per record)."""
    if p.languages:
        return list(dict.fromkeys(p.languages))
    rng = random.Random(f"{p.seed}:{rec.id}")
    pool = {k: w for k, w in p.weights.items() if w > 0}
    chosen = []
    for _ in range(p.per_record):
        pick = rng.choices(list(pool), weights=list(pool.values()))[0]
        chosen.append(pick)
        del pool[pick]
    return chosen


def source_of(rec: Record, given: str | None) -> str | None:
    """The record's source language: `given`, else its `meta.lang`, else identified (None: unclear)."""
    if given:
        return given
    declared = rec.meta.get("lang")
    if isinstance(declared, str) and declared != "und":
        return declared
    guess = identify("\n".join(m["content"] for m in rec.messages))
    return guess.lang if guess.sure else None


def lang_check(target: str):
    """Text -> `wrong_language` when it is identified as some other language than `target`."""
    def check(text: str) -> str | None:
        guess = identify(text)
        return "wrong_language" if guess.sure and guess.lang != base(target) else None
    return check


class Job:
    """Translating one record into one target language."""

    def __init__(self, rec: Record, src: str, target: str, p: TranslateParams, reasks: int, ask: AsyncAsk,
                 translator: AsyncAsk | None = None):
        self.rec, self.src, self.target, self.p, self.reasks, self.ask = rec, src, target, p, reasks, ask
        self.translator = translator or ask
        self.src_name, self.tgt_name = name_of(src, p.language_names), name_of(target, p.language_names)
        self.same = base(src) == base(target)
        self.failure: tuple[str, object] | None = None
        self.model = ""

    async def translate(self, text: str) -> str | None:
        if self.same:
            return text
        build = translation.text_only_messages if self.p.translator_prompt == "text_only" \
            else translation.translate_messages
        msgs, prot = build(text, self.src_name, self.tgt_name)
        checks = [lambda t: None if restore(t, prot)[0] is not None else "placeholders_lost"]
        if self.p.check_lang:
            checks.append(lang_check(self.target))
        talk = Talk(self.translator, 0, self.reasks)
        out, why = await talk.turn(msgs, checked(*checks, refusal_prose=False))
        if why:
            self.failure = self.failure or (why, {"text": text, "reply": talk.raw()})
            return None
        self.model = self.model or talk.model
        return translation.finish_translation(out, prot)[0]

    async def answer(self, sent: list[dict]) -> str | None:
        talk = Talk(self.ask, 0, self.reasks)
        out, why = await talk.turn(sent, checked(*([lang_check(self.target)] if self.p.check_lang else [])))
        if why:
            self.failure = (why, {"question": sent[-1]["content"], "reply": talk.raw()})
            return None
        self.model = self.model or talk.model
        return out

    async def run(self) -> list[dict] | None:
        rec, p = self.rec, self.p
        body = rec.messages[1:] if rec.system else rec.messages
        todo = [rec.system] if rec.system else []
        todo += [m["content"] for m in body if m["role"] == "user" or p.response == "translate"]
        done = await asyncio.gather(*(self.translate(t) for t in todo))
        if self.failure:
            return None
        done = list(done)
        system = done.pop(0) if rec.system else None
        if p.response == "translate":
            return ([{"role": "system", "content": system}] if system else []) + \
                [{"role": m["role"], "content": t} for m, t in zip(body, done)]
        return await self.answer_natively(system, done)

    async def answer_natively(self, system: str | None, users: list[str]) -> list[dict] | None:
        hint = translation.respond_system(self.tgt_name) if self.p.respond_hint else None
        sent_system = "\n\n".join(x for x in (system, hint) if x)
        kept = [{"role": "system", "content": system}] if system else []
        for user in users:
            kept.append({"role": "user", "content": user})
            sent = ([{"role": "system", "content": sent_system}] if sent_system else []) + \
                [m for m in kept if m["role"] != "system"]
            answer = await self.answer(sent)
            if answer is None:
                return None
            kept.append({"role": "assistant", "content": answer})
        return kept


async def translate_record(p: TranslateParams, reasks: int, meta: dict, translator: AsyncAsk | None,
                           rec: Record, target: str, ask: AsyncAsk) -> Item:
    src = source_of(rec, p.source_lang)
    if src is None:
        return Rejected("unknown_source_language", "set `source_lang` or run `langid` first", record=rec,
                        extra={"lang": target})
    job = Job(rec, src, target, p, reasks, ask, translator)
    messages = await job.run()
    if messages is None:
        why, raw = job.failure
        return Rejected(why, f"{src} -> {target}", record=rec, raw=raw, extra={"lang": target})
    return rec.derive(messages, **meta, lang=target, source_lang=src, model=job.model or rec.meta.get("model", ""))


def run(ctx: StageContext, inputs: list[StageInput], p: TranslateParams) -> Iterator[Item]:
    meta = {"stage": ctx.stage_id, "method": "translate", "response": p.response,
            "prompt": load_prompt("translate_text").ref}
    if p.translator is not None:
        meta["translator"] = p.translator.model or "stage model"
    make = partial(translate_record, p, reasks_of(ctx), meta, other_endpoint(ctx, p.translator))

    def tasks():
        for inp in inputs:
            for rec in inp:
                langs = targets(rec, p)
                ctx.count("generated", len(langs) - 1)
                for lang in langs:
                    ctx.count(f"target_{lang}")
                    yield partial(make, rec, lang)

    yield from run_all(ctx, tasks())


SPEC = OpSpec(
    name="translate", fn=run, params=TranslateParams, version=2, min_inputs=1, uses_llm=True,
    sharding="record",
    prompts=translation.TRANSLATE_PROMPTS,
    doc="Translate instructions into target languages and answer natively there (Bactrian-X / Phoenix).",
)
