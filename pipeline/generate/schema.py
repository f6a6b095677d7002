"""The `response_format` of a `generate` stage: load the JSON schema, say how to send it, validate
replies against it on our side.

The schema is sent as `{"type": "json_schema", ...}`. Endpoints that refuse it (HTTP 400) are
asked again with `{"type": "json_object"}`, then with no response format at all; from the first
fallback on, the prompt itself carries the schema. Whatever the endpoint promised, every reply is
validated here strictly (JSON Schema 2020-12; strict JSON, one Markdown fence stripped at most).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError
from pipeline.llm.parsing import OutputError, parse_json

# What is sent, in fallback order: the schema itself, JSON mode, nothing.
LEVELS = ("json_schema", "json_object", "none")


def _validator_class():
    try:
        from jsonschema import Draft202012Validator
    except ImportError:  # a core dependency; only a broken install lacks it
        raise ConfigError("response_format needs the `jsonschema` package: pip install jsonschema") from None
    return Draft202012Validator


def load_schema(value: dict | str) -> dict:
    """The schema of a `response_format` parameter: inline mapping, or a .json/.yaml file."""
    if isinstance(value, str):
        path = Path(value)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"{path}: cannot read the schema ({e.strerror})") from None
        try:
            value = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as e:
            raise ConfigError(f"{path}: not a JSON/YAML schema: {e}") from None
    if not isinstance(value, dict):
        raise ConfigError("response_format: a JSON schema is a mapping")
    return value


def check_schema(schema: dict) -> None:
    """Raise ValueError naming the first problem of a schema that is not valid JSON Schema."""
    from jsonschema.exceptions import SchemaError

    try:
        _validator_class().check_schema(schema)
    except SchemaError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "schema"
        raise ValueError(f"not a valid JSON schema at {where}: {e.message}") from None


def response_format(schema: dict, level: str, name: str) -> dict | None:
    """The `response_format` request parameter at a fallback level."""
    if level == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
    if level == "json_object":
        return {"type": "json_object"}
    return None


def schema_instruction(schema: dict) -> str:
    """What the prompt adds once the endpoint no longer enforces the schema."""
    return ("\n\nReply with one JSON object only, no other text, matching this JSON schema:\n"
            + json.dumps(schema, ensure_ascii=False, indent=2))


class SchemaCheck:
    """Strict parsing of a reply into a value valid against `schema`."""

    def __init__(self, schema: dict):
        self.schema = schema
        self.validator = _validator_class()(schema)

    def parse(self, text: str | None, *, complete: bool = True) -> Any:
        value = parse_json(text, complete=complete)
        errors = sorted(self.validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "reply"
            raise OutputError("bad_schema", f"{where}: {first.message[:300]}")
        return value
