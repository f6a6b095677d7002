"""Baize self-chat: the transcript prompt, the v2 turn requests and the transcript parser.

v1 asks once for a whole `[Human]`/`[AI]` transcript; v2 asks the model to write the next
human line (stopping at `[AI]`) and answers it in a separate plain chat.
"""

from __future__ import annotations

from pipeline.prompts import load_prompt

HUMAN, AI = "[Human]", "[AI]"
PROMPT = "baize_self_chat"


def transcript_text(rounds: list[tuple[str, str]], *, open_human: bool) -> str:
    """Rounds as transcript lines; with `open_human` it ends with `[Human] ` for the model to fill."""
    out = "".join(f"{HUMAN} {h}\n{AI} {a}\n" for h, a in rounds)
    return out + (f"{HUMAN} " if open_human else "")


def transcript_prompt(topic: str, rounds: list[tuple[str, str]] = (), *, open_human: bool = False) -> str:
    return load_prompt(PROMPT).render(topic=topic.strip(),
                                      transcript=transcript_text(list(rounds), open_human=open_human))


def v1_messages(topic: str) -> list[dict]:
    """The one request of v1: continue the primed transcript."""
    return [{"role": "user", "content": transcript_prompt(topic)}]


def v2_human_messages(topic: str, rounds: list[tuple[str, str]]) -> list[dict]:
    """v2: the transcript so far, ending with an open `[Human] ` line."""
    return [{"role": "user", "content": transcript_prompt(topic, rounds, open_human=True)}]


def v2_ai_messages(rounds: list[tuple[str, str]], human: str) -> list[dict]:
    """v2: the plain chat (history only) that answers the latest human line."""
    msgs = []
    for h, a in rounds:
        msgs += [{"role": "user", "content": h}, {"role": "assistant", "content": a}]
    return msgs + [{"role": "user", "content": human}]


def parse_transcript(text: str) -> list[tuple[str, str]]:
    """(human, ai) rounds of a v1 transcript, as Baize's preprocess does it.

    Split on `[Human]`, drop the preamble (before the first marker) and the last segment
    (usually truncated or a dangling question); each remaining segment must hold exactly one
    `[AI]` with text on both sides, and parsing stops at the first one that does not.
    """
    rounds = []
    for segment in text.split(HUMAN)[1:-1]:
        parts = segment.split(AI)
        if len(parts) != 2:
            break
        human, ai = parts[0].strip(), parts[1].strip()
        if not human or not ai:
            break
        rounds.append((human, ai))
    return rounds


def clean_human(text: str) -> str:
    """A v2 human line: the text before any marker the model wrote anyway."""
    for marker in (AI, HUMAN):
        text = text.split(marker, 1)[0]
    return text.strip()
