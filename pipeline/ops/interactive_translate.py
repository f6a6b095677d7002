"""`interactive_translate`: BayLing-style multi-turn translation sessions.

The user asks for a translation of the record's text, the assistant translates, then the user
(simulated) asks for refinements: a lexical constraint, another style, polishing, an
explanation or a correction, and the assistant answers each. Writes one session per record
(target drawn per record, seeded); `meta.lang` is the target, `meta.source_lang` the source.
Rejects `wrong_language` (first translation not in the target), `too_few_turns`, `llm_error`
and bad replies after re-asks.
"""

from __future__ import annotations

import random
from functools import partial
from typing import Iterator, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.chat import translation
from pipeline.chat.languages import check_code, name_of
from pipeline.chat.talk import Talk, checked, finish, reasks_of, run_all, seed_tasks
from pipeline.chat.turns import clean_user_turn
from pipeline.errors import ConfigError
from pipeline.llm.types import AsyncAsk
from pipeline.ops.base import Item, OpSpec, Params, StageContext, StageInput
from pipeline.ops.translate import lang_check, source_of
from pipeline.prompts import load_prompt
from pipeline.record import Record, Rejected

Kind = Literal["lexical", "style", "polish", "explain", "correct"]


class InteractiveTranslateParams(Params):
    target_langs: list[str] = Field(description="one is drawn per record")
    source_lang: str | None = Field(None, description="default: meta.lang, else identified")
    text_from: Literal["instruction", "response"] = Field("instruction", description="which turn to translate")
    followups: list[Kind] = Field(default_factory=lambda: ["lexical", "style", "polish", "explain", "correct"],
                                  description="kinds of follow-up requests to draw from")
    num_followups: int = Field(2, ge=1, le=5, description="follow-up turns per session (distinct kinds)")
    user_lang: Literal["source", "target"] = Field("source", description="language of the follow-up requests")
    check_lang: bool = True
    language_names: dict[str, str] = Field(default_factory=dict)
    seed: int = 0

    @field_validator("target_langs")
    @classmethod
    def _some(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("give at least one target language")
        return v

    @model_validator(mode="after")
    def _codes(self) -> "InteractiveTranslateParams":
        if self.num_followups > len(set(self.followups)):
            raise ValueError("num_followups is larger than the number of follow-up kinds")
        try:
            for code in [*self.target_langs, *([self.source_lang] if self.source_lang else [])]:
                check_code(code, self.language_names)
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return self


async def session(p: InteractiveTranslateParams, reasks: int, meta: dict, rec: Record, sample: int,
                  ask: AsyncAsk) -> Item:
    rng = random.Random(f"{p.seed}:{rec.id}")
    target = rng.choice(p.target_langs)
    kinds = rng.sample(list(dict.fromkeys(p.followups)), p.num_followups)
    src = source_of(rec, p.source_lang)
    if src is None:
        return Rejected("unknown_source_language", "set `source_lang` or run `langid` first", record=rec)
    names = p.language_names
    src_name, tgt_name = name_of(src, names), name_of(target, names)
    text = rec.instruction if p.text_from == "instruction" or not rec.complete else rec.response
    talk = Talk(ask, sample, reasks)
    messages = [{"role": "user", "content": translation.bayling_request(text, src_name, tgt_name)}]
    first, why = await talk.turn(messages, checked(*([lang_check(target)] if p.check_lang else [])))
    if why:
        return Rejected(why, f"first translation {src} -> {target}", record=rec, raw=talk.raw())
    messages.append({"role": "assistant", "content": first})
    end = "followups_done"
    user_name = src_name if p.user_lang == "source" else tgt_name
    for kind in kinds:
        ask_text, why = await talk.turn(translation.followup_messages(messages, kind, user_name), checked())
        follow = clean_user_turn(ask_text) if ask_text else ""
        if why or not follow:
            end = why or "empty"
            break
        reply, why = await talk.turn(messages + [{"role": "user", "content": follow}], checked())
        if why:
            end = why
            break
        messages += [{"role": "user", "content": follow}, {"role": "assistant", "content": reply}]
    meta = dict(meta, lang=target, source_lang=src, followups=kinds, model=talk.model)
    return finish(rec, messages, meta, end=end, raw=talk.raw() if end != "followups_done" else None)


def run(ctx: StageContext, inputs: list[StageInput], p: InteractiveTranslateParams) -> Iterator[Item]:
    meta = {"stage": ctx.stage_id, "method": "bayling", "prompt": load_prompt("bayling_followup").ref}
    yield from run_all(ctx, seed_tasks(ctx, inputs, 1, partial(session, p, reasks_of(ctx), meta)))


SPEC = OpSpec(
    name="interactive_translate", fn=run, params=InteractiveTranslateParams, version=1, min_inputs=1,
    sharding="record",
    uses_llm=True, prompts=translation.BAYLING_PROMPTS,
    doc="BayLing-style translation sessions: a translation, then follow-up refinement requests.",
)
