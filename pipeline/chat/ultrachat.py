"""UltraChat-style dialogues: opening turns from a question, a meta-topic or a material, and
the user simulator's request for each next turn.
"""

from __future__ import annotations

from pipeline.chat.turns import labelled
from pipeline.prompts import load_prompt

PROMPTS = ("ultrachat_user_turn", "ultrachat_topic_opening", "ultrachat_material_question",
           "ultrachat_material_opening")
MATERIAL_FORMS = 3


def topic_question_messages(topic: str) -> list[dict]:
    return [{"role": "user", "content": load_prompt("ultrachat_topic_opening").render(topic=topic.strip())}]


def material_question_messages(material: str) -> list[dict]:
    text = load_prompt("ultrachat_material_question").render(material=material.strip())
    return [{"role": "user", "content": text}]


def material_opening(material: str, question: str, form: int) -> str:
    """The first user turn: the material and the request, wrapped by template `form`."""
    return load_prompt("ultrachat_material_opening").render(
        material=material.strip(), question=question.strip(), form=form % MATERIAL_FORMS).strip()


def user_turn_messages(messages: list[dict]) -> list[dict]:
    """Ask the simulator for the next user message, showing it the conversation so far."""
    text = load_prompt("ultrachat_user_turn").render(transcript=labelled(messages))
    return [{"role": "user", "content": text}]
