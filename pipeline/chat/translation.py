"""Translation requests that keep code, links and placeholders intact, and BayLing-style
follow-up requests (lexical constraints, style, polishing, explanation, correction).
"""

from __future__ import annotations

from pipeline.chat.protect import Protected, protect, restore
from pipeline.chat.turns import labelled
from pipeline.prompts import load_prompt

TRANSLATE_PROMPTS = ("translate_text", "translate_respond_system", "translate_text_only_system")
BAYLING_PROMPTS = ("bayling_request", "bayling_followup")

FOLLOWUPS = {
    "lexical": "ask that one particular word or phrase of the original be translated with a specific "
               "term of your choosing (name both), and for the whole translation again with that term.",
    "style": "ask for the translation in a different style or register, for example more formal, more "
             "casual, or simple enough for a child.",
    "polish": "ask the assistant to polish its translation so that it reads more naturally and fluently.",
    "explain": "ask the assistant to explain why it translated one particular word or phrase the way it did.",
    "correct": "point out one word or phrase you believe is mistranslated and ask for a corrected translation.",
}


def translate_messages(text: str, source: str, target: str) -> tuple[list[dict], Protected]:
    """The request translating `text` (with its code, links and placeholders swapped for markers)."""
    prot = protect(text.strip())
    body = load_prompt("translate_text").render(text=prot.text, source=source, target=target,
                                                markers=bool(prot.spans))
    return [{"role": "user", "content": body}], prot


def text_only_messages(text: str, source: str, target: str) -> tuple[list[dict], Protected]:
    """For a dedicated MT model: a one-line system message naming the languages, then the text
    alone (code, links and placeholders still swapped for markers)."""
    prot = protect(text.strip())
    system = load_prompt("translate_text_only_system").render(source=source, target=target)
    return [{"role": "system", "content": system}, {"role": "user", "content": prot.text}], prot


def finish_translation(reply_text: str, prot: Protected) -> tuple[str | None, str]:
    """The translation with the protected spans back in, or (None, why) when a marker was lost."""
    return restore(reply_text.strip(), prot)


def respond_system(language: str) -> str:
    return load_prompt("translate_respond_system").render(language=language)


def bayling_request(text: str, source: str, target: str) -> str:
    """The first user turn: a plain request to translate `text`."""
    return load_prompt("bayling_request").render(text=text.strip(), source=source, target=target)


def followup_messages(messages: list[dict], kind: str, language: str) -> list[dict]:
    """Ask the user simulator for a follow-up of `kind`, written in `language`."""
    text = load_prompt("bayling_followup").render(transcript=labelled(messages), request=FOLLOWUPS[kind],
                                                  language=language)
    return [{"role": "user", "content": text}]
