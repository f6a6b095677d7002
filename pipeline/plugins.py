"""Ops from other packages: the entry-point group `instructpipe.ops`.

A plugin package declares, in its `pyproject.toml`,

    [project.entry-points."instructpipe.ops"]
    shout = "instructpipe_shout:SPEC"

where the object named is an `OpSpec` (or a list of them, or a function returning either). Its
ops join the op table under their own names, carrying their package's name and version: both
enter every stage fingerprint, so upgrading a plugin re-runs the stages that use it. A plugin
never replaces a built-in op; a plugin that fails to load is left out, and naming one of its
ops in a recipe says why.
"""

from __future__ import annotations

import dataclasses
from importlib import metadata
from typing import Any

from pydantic import BaseModel

from pipeline.ops.base import OpSpec

GROUP = "instructpipe.ops"


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=GROUP), key=lambda ep: (ep.name, ep.value))


def _specs(obj: Any, where: str) -> list[OpSpec]:
    if callable(obj) and not isinstance(obj, OpSpec):
        obj = obj()
    specs = list(obj) if isinstance(obj, (list, tuple)) else [obj]
    for spec in specs:
        if not isinstance(spec, OpSpec):
            raise TypeError(f"{where} gave {type(spec).__name__}, not an OpSpec")
        if not (isinstance(spec.params, type) and issubclass(spec.params, BaseModel)):
            raise TypeError(f"{where}: op {spec.name!r} has no pydantic Params model")
    return specs


def load_plugins(builtin: dict[str, OpSpec]) -> tuple[dict[str, OpSpec], dict[str, str]]:
    """`(ops, problems)`: plugin ops by name (package set), and why others were left out."""
    ops: dict[str, OpSpec] = {}
    problems: dict[str, str] = {}
    for ep in _entry_points():
        dist = getattr(ep, "dist", None)
        package = dist.metadata["Name"] if dist is not None else ep.module.split(".")[0]
        version = dist.version if dist is not None else "unknown"
        where = f"plugin {package} {version} (entry point {ep.name} = {ep.value})"
        try:
            specs = _specs(ep.load(), where)
        except Exception as e:  # a broken plugin must not break every command
            problems[ep.name] = f"{where} failed to load: {type(e).__name__}: {e}"
            continue
        for spec in specs:
            if spec.name in builtin:
                problems.setdefault(f"{spec.name}@{package}", f"{where}: op {spec.name!r} is built in; "
                                                              "the plugin's op is ignored")
            elif spec.name in ops:
                problems[spec.name] = f"{where}: op {spec.name!r} also comes from {ops[spec.name].package}; " \
                                      "the first one is used"
            else:
                ops[spec.name] = dataclasses.replace(spec, package=package, package_version=version)
    return ops, problems
