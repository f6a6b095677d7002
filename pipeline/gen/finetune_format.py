"""Self-Instruct's fine-tuning format (`finetuning_format: true`): the reference's last step before
training, applied to instance records and to the seed instances.

Half of the time (a seeded draw per record) an input whose only field name is one `Name:` loses
that prefix and its blank lines become single newlines; then one of the reference's prompt
templates (seven with an input, six without) is drawn and the instruction and input are written
into it as the user turn. The answer stays the assistant turn (no end-of-text marker: chat exports
add their own). Duplicates of (prompt, answer) are the dedup ops' job.
"""

from __future__ import annotations

import random
import re

from pipeline.record import Record

WITH_INPUT = ("{instruction}\nInput: {input}\nOutput:", "{instruction}\n\nInput: {input}\n\nOutput:",
              "Task: {instruction}\nInput: {input}\nOutput:", "{instruction}\n\n{input}\n\nOutput:",
              "{instruction}\n\n{input}\n\n", "{instruction}\n{input}\n\n", "Task: {instruction}\n\n{input}\n\n")
WITHOUT_INPUT = ("{instruction} Output:", "{instruction}\nOutput:", "{instruction}\n\nOutput:",
                 "{instruction}\n", "{instruction}\n\n", "Task: {instruction}\n\n")
_FIELD = re.compile(r"(\w+):")


def simplify_input(text: str) -> str:
    """The reference's input clean-up: one distinct `Field:` name -> drop it; blank lines -> newlines."""
    if len(set(_FIELD.findall(text))) == 1:
        text = text.split(":", 1)[1].strip()
    return text.strip().replace("\n\n", "\n")


def encode(instruction: str, extra: str, rng: random.Random) -> str:
    """The user turn: a reference template drawn at random, filled with instruction and input."""
    if rng.random() < 0.5:
        extra = simplify_input(extra)
    if extra.strip():
        template = rng.choice(WITH_INPUT)
        return template.format(instruction=instruction.strip(), input=extra.strip()).rstrip()
    return rng.choice(WITHOUT_INPUT).format(instruction=instruction.strip()).rstrip()


def formatted(rec: Record, instruction: str, extra: str, seed: int) -> Record:
    """`rec` with its user turn in the fine-tuning format (its id is new: the text changed)."""
    rng = random.Random(f"{seed}:{rec.id}:finetuning_format")
    user = encode(instruction, extra, rng)
    messages = [{"role": "user", "content": user}, *rec.messages[1:]]
    return Record.new(messages, {**rec.meta, "finetuning_format": True})


def seed_parts(rec: Record) -> tuple[str, str] | None:
    """(instruction, input) of a seed-instance record with an answer, else None."""
    instruction = rec.meta.get("seed_instruction")
    if not instruction or not rec.complete or len(rec.messages) != 2:
        return None
    user = rec.messages[0]["content"]
    extra = user[len(instruction):].strip() if user.startswith(instruction) else ""
    return instruction, extra
