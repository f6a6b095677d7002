"""Recipes: load the YAML, interpolate `${ENV}`, validate every stage, order the DAG.

Everything is checked before any work starts; each problem names its path in the recipe
(`stages[2].thresold: unknown key; did you mean threshold?`).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline import safe_yaml
from pipeline.engine import EngineSettings
from pipeline.errors import ConfigError
from pipeline.llm.settings import LLMSettings, merge_llm
from pipeline.ops import get_op
from pipeline.ops.base import OpSpec, Params

STAGE_KEYS = ("id", "op", "inputs", "llm")
TOP_KEYS = ("name", "description", "llm", "stages", "engine")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# entries of a run folder a stage folder must not take (compared case-insensitively)
RESERVED_IDS = ("cache", "reviews", "dry-run", "manifest.json", "manifest.json.tmp", "report.html")
ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SECRET_NAME_RE = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL", re.I)


@dataclass
class Stage:
    id: str
    op: OpSpec
    inputs: tuple[str, ...]
    params: Params
    llm: LLMSettings | None
    index: int
    shown: dict = field(default_factory=dict)
    tokenizer: str | None = None  # resolved `llm.tokenizer` (pipeline/tokens.py)


@dataclass
class Recipe:
    name: str
    stages: list[Stage]
    path: Path | None
    folder: Path
    llm: dict | None
    shown: dict
    engine: dict = field(default_factory=dict)  # the `engine:` block, validated (pipeline/engine.py)

    def stage(self, stage_id: str) -> Stage:
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise ConfigError(f"no stage {stage_id!r} in recipe {self.name!r} "
                          f"(stages: {', '.join(s.id for s in self.stages)})")

    def downstream(self, stage_id: str) -> set[str]:
        """Ids of `stage_id` and every stage that depends on it."""
        out = {stage_id}
        for s in self.stages:
            if any(i in out for i in s.inputs):
                out.add(s.id)
        return out

    def upstream(self, stage_id: str) -> set[str]:
        """Ids of `stage_id` and every stage it depends on."""
        by_id = {s.id: s for s in self.stages}
        out, todo = set(), [stage_id]
        while todo:
            sid = todo.pop()
            if sid not in out:
                out.add(sid)
                todo.extend(by_id[sid].inputs)
        return out


def suggest(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def interpolate(value: Any, path: str, problems: list[str], secrets: set[str]) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string; note values from secret-like vars."""
    if isinstance(value, dict):
        return {k: interpolate(v, f"{path}.{k}" if path else str(k), problems, secrets)
                for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}[{i}]", problems, secrets) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def repl(m: re.Match) -> str:
        var, default = m.group(1), m.group(2)
        got = os.environ.get(var, default)
        if got is None:
            problems.append(f"{path}: environment variable {var} is not set")
            return ""
        if SECRET_NAME_RE.search(var) and got:
            secrets.add(got)
        return got

    return ENV_RE.sub(repl, value)


URL_USERINFO_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def mask(value: Any, secrets: set[str]) -> Any:
    """Hide values of secret-like env vars and `user:password@` in URLs (for the manifest)."""
    if isinstance(value, dict):
        return {k: mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, secrets) for v in value]
    if isinstance(value, str):
        for s in secrets:
            value = value.replace(s, "***")
        value = URL_USERINFO_RE.sub(r"\1***@", value)
    return value


def pydantic_problems(err: ValidationError, prefix: str, allowed: list[str]) -> list[str]:
    out = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        where = f"{prefix}.{loc}" if loc else prefix
        if e["type"] == "extra_forbidden":
            out.append(f"{where}: unknown key{suggest(str(e['loc'][-1]), allowed)}")
        elif e["type"] == "missing":
            out.append(f"{where}: required")
        else:
            out.append(f"{where}: {e['msg']} (got {e.get('input')!r})")
    return out


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: recipe not found") from None
    try:
        raw = safe_yaml.load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(e, 'problem', e)}") from None
    return build_recipe(raw, path.resolve().parent, path)


def build_recipe(raw: Any, folder: Path, path: Path | None = None) -> Recipe:
    """Validate a decoded recipe; raise one ConfigError listing every problem."""
    label = str(path) if path else "recipe"
    if not isinstance(raw, dict):
        raise ConfigError(f"{label}: a recipe is a mapping with 'name' and 'stages'")
    problems: list[str] = []
    secrets: set[str] = set()
    raw = interpolate(raw, "", problems, secrets)
    for key in raw:
        if key not in TOP_KEYS:
            problems.append(f"{key}: unknown key{suggest(str(key), list(TOP_KEYS))}")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append("name: required; letters, digits, '_', '.', '-' (it names the run folder)")
    llm = raw.get("llm")
    if llm is not None:
        problems += _check_llm(llm, "llm")
    engine = _check_engine(raw.get("engine"), problems)
    stages_raw = raw.get("stages")
    if not isinstance(stages_raw, list) or not stages_raw:
        problems.append("stages: required; a list of stages")
        stages_raw = []
    stages = [_build_stage(s, i, folder, llm, problems) for i, s in enumerate(stages_raw)]
    stages = [s for s in stages if s is not None]
    stages = _order(stages, problems)
    if problems:
        raise ConfigError(f"{label}: " + "; ".join(dict.fromkeys(problems)))
    shown = mask({"name": name, "llm": llm, "stages": [s.shown for s in stages]}, secrets)
    return Recipe(name, stages, path, folder, llm, shown, engine)


def _check_engine(value: Any, problems: list[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append("engine: expected a mapping (kind, workers, address, shard_size)")
        return {}
    try:
        return EngineSettings(**value).model_dump(exclude_none=True)
    except ValidationError as e:
        problems += pydantic_problems(e, "engine", list(EngineSettings.model_fields))
        return {}


def _check_llm(value: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected a mapping"]
    try:
        LLMSettings(**value)
    except ValidationError as e:
        return pydantic_problems(e, where, list(LLMSettings.model_fields))
    return []


def _build_stage(raw: Any, i: int, folder: Path, llm: dict | None, problems: list[str]) -> Stage | None:
    where = f"stages[{i}]"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping with id and op")
        return None
    sid, op_name = raw.get("id"), raw.get("op")
    if not isinstance(sid, str) or not NAME_RE.match(sid):
        problems.append(f"{where}.id: required; letters, digits, '_', '.', '-'")
        return None
    if sid.lower() in RESERVED_IDS:
        problems.append(f"{where}.id: {sid!r} is reserved in the run folder; choose another id")
        return None
    try:
        op = get_op(op_name)
    except ConfigError as e:
        problems.append(f"{where}.op: {e}")
        return None
    inputs = raw.get("inputs", [])
    if "inputs" not in raw and isinstance(raw.get("from"), str) \
            and any(f.alias == "from" for f in op.params.model_fields.values()):
        inputs = [raw["from"]]  # `from: STAGE` (the review op) names the input
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not all(isinstance(x, str) for x in inputs):
        problems.append(f"{where}.inputs: expected a list of stage ids")
        inputs = []
    if len(inputs) < op.min_inputs or (op.max_inputs is not None and len(inputs) > op.max_inputs):
        if op.max_inputs is None:
            takes = f"at least {op.min_inputs}"
        elif op.max_inputs == op.min_inputs:
            takes = f"exactly {op.min_inputs}"
        else:
            takes = f"{op.min_inputs} to {op.max_inputs}"
        problems.append(f"{where}.inputs: op {op.name} takes {takes} input(s), got {len(inputs)}")
    odd = [k for k in raw if not isinstance(k, str)]
    if odd:
        problems.append(f"{where}: key {odd[0]!r} is not text (YAML reads on/off/yes/no as "
                        "booleans: quote the key)")
        return None
    params_raw = {k: v for k, v in raw.items() if k not in STAGE_KEYS}
    stage_llm = None
    if op.uses_llm or "llm" in raw:
        merged = merge_llm(llm, raw.get("llm"))
        bad = _check_llm(merged, f"{where}.llm")
        problems.extend(bad)
        stage_llm = LLMSettings(**merged) if not bad else None
    params = validate_params(op, params_raw, where, folder, problems)
    if params is None:
        return None
    tokenizer = resolve_tokenizer(merge_llm(llm, raw.get("llm")), folder, where, problems)
    shown = {"id": sid, "op": op.name, "inputs": list(inputs), **params.model_dump(mode="json")}
    if "llm" in raw:
        shown["llm"] = raw["llm"]
    return Stage(sid, op, tuple(inputs), params, stage_llm, i, shown, tokenizer)


def resolve_tokenizer(llm: dict, folder: Path, where: str, problems: list[str]) -> str | None:
    """The `llm.tokenizer` path against the recipe's folder (a problem when it does not exist)."""
    value = llm.get("tokenizer")
    if not isinstance(value, str) or not value:
        return None
    resolved = (folder / os.path.expanduser(value)).resolve()
    if not resolved.exists():
        problems.append(f"{where}.llm.tokenizer: file not found: {resolved}")
    return str(resolved)


def validate_params(op: OpSpec, raw: dict, where: str, folder: Path, problems: list[str]) -> Params | None:
    """Validate an op's parameters, resolving path parameters against `folder`."""
    try:
        model = op.model_for(raw)
    except ConfigError as e:
        problems.append(f"{where}: {e}")
        return None
    raw = dict(raw)
    for key in op.path_params:
        value = raw.get(key)
        if isinstance(value, str) and value:
            resolved = (folder / os.path.expanduser(value)).resolve()
            if not resolved.exists():
                problems.append(f"{where}.{key}: file not found: {resolved}")
            raw[key] = str(resolved)
    try:
        return model(**raw)
    except ValidationError as e:
        allowed = list(STAGE_KEYS) + list(model.model_fields)
        problems.extend(pydantic_problems(e, where, allowed))
        return None


def _order(stages: list[Stage], problems: list[str]) -> list[Stage]:
    """Check ids and inputs, then return the stages in dependency order (recipe order kept)."""
    found_before = len(problems)
    by_id: dict[str, Stage] = {}
    for s in stages:
        if s.id in by_id:
            problems.append(f"stages[{s.index}].id: duplicate id {s.id!r}")
        by_id[s.id] = s
    for s in stages:
        for j, inp in enumerate(s.inputs):
            if inp not in by_id:
                problems.append(f"stages[{s.index}].inputs[{j}]: no stage with id {inp!r}"
                                f"{suggest(inp, list(by_id))}")
    if len(problems) > found_before:  # no ordering without unique ids and known inputs
        return stages
    ordered: list[Stage] = []
    state: dict[str, int] = {}

    def visit(s: Stage, trail: list[str]) -> None:
        if state.get(s.id) == 2:
            return
        if state.get(s.id) == 1:
            cycle = trail[trail.index(s.id):] + [s.id]
            problems.append(f"stages[{s.index}].inputs: cycle {' -> '.join(cycle)}")
            return
        state[s.id] = 1
        for inp in s.inputs:
            visit(by_id[inp], trail + [s.id])
        state[s.id] = 2
        ordered.append(s)

    for s in stages:
        visit(s, [])
    return ordered
