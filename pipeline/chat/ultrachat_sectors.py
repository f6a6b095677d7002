"""UltraChat's opening lines by sector, each a short chain of list requests:

- world: meta-topic -> sub-topics -> questions per sub-topic -> related questions per question;
- writing: writing type -> instructions, most of them rewritten with more detail;
- materials: a text -> requests about it, wrapped with the text as the first user turn.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.errors import ConfigError
from pipeline.llm.parsing import numbered_items
from pipeline.prompts import load_prompt
from pipeline.resources import recipes_dir

PROMPTS = ("ultrachat_subtopics", "ultrachat_questions", "ultrachat_related", "ultrachat_writing",
           "ultrachat_expand", "ultrachat_material_requests", "ultrachat_material_opening")


def bundled_topics() -> Path:
    return recipes_dir() / "attributes" / "ultrachat_topics.yaml"


def load_topics(path: str | Path | None) -> dict[str, list[str]]:
    """`meta_topics` and `writing_types` from a YAML file (the bundled one by default)."""
    path = Path(path) if path else bundled_topics()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read the topic list ({e})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with meta_topics and/or writing_types")
    out = {}
    for key in ("meta_topics", "writing_types"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f"{path}: {key}: expected a list of texts")
        out[key] = [v.strip() for v in value]
    return out


def ask(name: str, **values) -> list[dict]:
    return [{"role": "user", "content": load_prompt(name).render(**values).strip()}]


def items(text: str, limit: int) -> list[str]:
    """The first line of each numbered item, at most `limit`."""
    found, _ = numbered_items(text)
    lines = [item.splitlines()[0].strip() for item in found if item.strip()]
    return [line for line in lines if line][:limit]


def list_check(text: str) -> str | None:
    return None if items(text, 1) else "unparsable"
