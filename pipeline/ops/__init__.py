"""The op table: every op a recipe or `instructpipe stage` can name, listed explicitly."""

from __future__ import annotations

from pipeline.errors import ConfigError
from pipeline.ops.base import OpSpec


def _table() -> dict[str, OpSpec]:
    from pipeline.ops import dedup_exact, export, filter as filter_op, ingest, mix, respond, rouge_novelty
    from pipeline.ops import (alpaca_instruct, evol_instruct, guided_instruct, self_instruct,
                              unnatural_instruct)

    specs = [ingest.SPEC, mix.SPEC, dedup_exact.SPEC, filter_op.SPEC, rouge_novelty.SPEC, respond.SPEC,
             export.SPEC]
    specs += [self_instruct.SPEC, alpaca_instruct.SPEC, evol_instruct.SPEC, evol_instruct.CODE_SPEC,
              guided_instruct.SPEC, unnatural_instruct.SPEC]
    return {spec.name: spec for spec in specs}


_OPS: dict[str, OpSpec] | None = None


def all_ops() -> dict[str, OpSpec]:
    global _OPS
    if _OPS is None:
        _OPS = _table()
    return _OPS


def get_op(name: object) -> OpSpec:
    ops = all_ops()
    if not isinstance(name, str) or name not in ops:
        import difflib

        close = difflib.get_close_matches(str(name), list(ops), n=1)
        hint = f"; did you mean {close[0]}?" if close else f" (known: {', '.join(sorted(ops))})"
        raise ConfigError(f"unknown op {name!r}{hint}")
    return ops[name]
