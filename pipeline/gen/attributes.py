"""Attribute files for guided generation (LaMini-LM topics, AttrPrompt attributes, Phoenix's
user roles for user-centred instructions) and the seeded sampling of one combination per request.

The YAML maps attribute names to lists of values; `topics` may instead map each topic to its
subtopics. Problems are reported as `file:line: key: problem`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.errors import ConfigError

LABELS = {"roles": "The user (write as this person would ask, with the input they would give)",
          "topics": "Topic", "subtopics": "Subtopic", "task_types": "Task type", "styles": "Style",
          "audiences": "Audience", "lengths": "Length of the expected answer",
          "languages": "Language of the instruction"}
SINGULAR = {"roles": "role", "topics": "topic", "subtopics": "subtopic", "task_types": "task_type", "styles": "style",
            "audiences": "audience", "lengths": "length", "languages": "language"}


@dataclass(frozen=True)
class Attributes:
    values: dict[str, list[str]]
    subtopics: dict[str, list[str]]

    def sample(self, rng: random.Random) -> dict[str, str]:
        """One combination: a value per attribute (a subtopic of the chosen topic when listed)."""
        combo: dict[str, str] = {}
        for key in LABELS:
            if key == "subtopics" and combo.get("topic") in self.subtopics:
                combo["subtopic"] = rng.choice(self.subtopics[combo["topic"]])
            elif self.values.get(key):
                combo[SINGULAR[key]] = rng.choice(self.values[key])
        return combo


def describe(combo: dict[str, str]) -> list[tuple[str, str]]:
    """(label, value) lines of a combination, in a fixed order, for the prompt."""
    return [(LABELS[key], combo[SINGULAR[key]]) for key in LABELS if SINGULAR[key] in combo]


def _lines(node: yaml.Node) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}


def _texts(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: expected a non-empty list of texts")
    return [v.strip() for v in value]


def load_attributes(path: str | Path) -> Attributes:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw, lines = yaml.safe_load(text), _lines(yaml.compose(text))
    except FileNotFoundError:
        raise ConfigError(f"{path}: attributes file not found") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{path}: expected a mapping of attributes ({', '.join(LABELS)})")
    values: dict[str, list[str]] = {}
    subtopics: dict[str, list[str]] = {}
    for key, value in raw.items():
        where = f"{path}:{lines.get(str(key), 1)}: {key}"
        if key not in LABELS:
            raise ConfigError(f"{where}: unknown attribute (known: {', '.join(LABELS)})")
        if key == "topics" and isinstance(value, dict):
            subtopics = {str(t): _texts(subs, f"{where}.{t}") for t, subs in value.items()}
            values[key] = list(subtopics)
        else:
            values[key] = _texts(value, where)
    if subtopics and "subtopics" in values:
        raise ConfigError(f"{path}:{lines['subtopics']}: subtopics: give subtopics either under each topic "
                          "or as one list, not both")
    return Attributes(values, subtopics)
