"""The op table: every op a recipe or `instructpipe stage` can name, listed explicitly."""

from __future__ import annotations

from pipeline.errors import ConfigError
from pipeline.ops.base import OpSpec


def _table() -> dict[str, OpSpec]:
    from pipeline.ops import (alpaca_instruct, decontaminate, dedup_exact, dedup_minhash, dedup_semantic,
                              evol_instruct, export, filter as filter_op, generate, guided_instruct, ifd,
                              ifd_experience, ifs, ingest, instag_sample, interactive_translate, judge, langid,
                              mix, pairs, respond, review, role_play, rouge_novelty, score_deita, select,
                              self_chat, self_instruct, self_refine, tag, translate, ultrachat_openings,
                              unnatural_instruct, user_sim)
    from pipeline.ops import (attr_prompt, edu_value, instruction_mining, lamini_instruct,  # issue 13 items 11-15
                              lima)

    ingest_and_mix = [ingest.SPEC, mix.SPEC]
    generation = [self_instruct.SPEC, alpaca_instruct.SPEC, evol_instruct.SPEC, evol_instruct.CODE_SPEC,
                  guided_instruct.SPEC, unnatural_instruct.SPEC, respond.SPEC, generate.SPEC,
                  lamini_instruct.SPEC, attr_prompt.SPEC]
    conversation = [self_chat.SPEC, role_play.SPEC, ultrachat_openings.SPEC, user_sim.SPEC, self_refine.SPEC,
                    translate.SPEC, interactive_translate.SPEC, langid.SPEC]
    curation = [dedup_exact.SPEC, dedup_minhash.SPEC, dedup_semantic.SPEC, rouge_novelty.SPEC,
                filter_op.SPEC, decontaminate.SPEC, judge.SPEC, score_deita.SPEC, tag.SPEC, select.SPEC,
                ifd.SPEC, ifd_experience.SPEC, instag_sample.SPEC, pairs.SPEC, review.SPEC, lima.SPEC, ifs.SPEC,
                instruction_mining.SPEC, edu_value.SPEC]
    specs = ingest_and_mix + generation + conversation + curation + [export.SPEC]
    return {spec.name: spec for spec in specs}


_OPS: dict[str, OpSpec] | None = None
PLUGIN_PROBLEMS: dict[str, str] = {}


def all_ops() -> dict[str, OpSpec]:
    """Built-in ops, then ops of installed plugins (entry points `instructpipe.ops`)."""
    global _OPS
    if _OPS is None:
        from pipeline.plugins import load_plugins

        builtin = _table()
        plugins, problems = load_plugins(builtin)
        PLUGIN_PROBLEMS.update(problems)
        _OPS = {**builtin, **plugins}
    return _OPS


def get_op(name: object) -> OpSpec:
    ops = all_ops()
    if not isinstance(name, str) or name not in ops:
        import difflib

        if name in PLUGIN_PROBLEMS:
            raise ConfigError(f"unknown op {name!r}: {PLUGIN_PROBLEMS[name]}")

        close = difflib.get_close_matches(str(name), list(ops), n=1)
        hint = f"; did you mean {close[0]}?" if close else f" (known: {', '.join(sorted(ops))})"
        raise ConfigError(f"unknown op {name!r}{hint}")
    return ops[name]
