"""`tag`: InsTag-style intention tags of each record's user turns, from an LLM, as a JSON list.

Writes the normalised tags to `meta.tags` and their number (InsTag complexity) to
`meta.scores.instag_complexity`; `<stage>/tags.json` holds the tag counts, the mean tags per
record (complexity) and, with `coverage_of` naming an upstream `tag` stage, the share of that
stage's tags these records cover (InsTag diversity). Replies must be strict JSON (one
surrounding fence removed) of the expected shape: others are re-asked, then the record is
rejected (`tag_bad_json`, `tag_bad_schema`, `tag_empty`, ...), raw reply kept.
"""

from __future__ import annotations

import json
from typing import Iterator

from pydantic import Field

from pipeline.embed import EmbedParams, embedder_for
from pipeline.errors import ConfigError
from pipeline.jsonl import atomic_write_json
from pipeline.llm.types import AsyncAsk, Reply
from pipeline.ops.base import Item, OpSpec, StageContext, StageInput
from pipeline.record import Record
from pipeline.scoring.ask import ScorerParams, ask_parsed, in_order, reask_limit, rejection, with_scores
from pipeline.scoring.layout import TAG_PROMPTS, tag_messages
from pipeline.scoring.parse import parse_tags
from pipeline.scoring.tag_merge import association_merges, semantic_merges
from pipeline.scoring.tags import TagVocabulary, coverage, tag_key

TAGS_FILE = "tags.json"


class TagParams(ScorerParams, EmbedParams):
    min_count: int = Field(20, ge=1, description="drop tags carried by fewer records of the stage (InsTag: 20, "
                                                 "on 300K queries; use 1-3 on a few hundred records)")
    semantic_merge: float | None = Field(None, ge=0, le=1, description="merge tags within this cosine "
                                         "distance of each other (InsTag: 0.05 with PhraseBERT); uses `embedder`")
    association_merge: bool = Field(False, description="merge a tag into one it (almost) always comes with")
    min_support: int = Field(40, ge=1, description="association: records the two tags share (InsTag: 40)")
    confidence: float = Field(0.99, gt=0, le=1, description="association: share of the rarer tag's records "
                                                            "that carry the other (InsTag: 99%)")
    coverage_of: str | None = Field(None, description="id of an upstream tag stage: report the share "
                                                      "of its tags these records cover")


def parse_tag_reply(reply: Reply):
    return parse_tags(reply.text)


def reference_tags(ctx: StageContext, stage_id: str) -> list[str]:
    """The tags of an upstream tag stage (its tags.json), for coverage."""
    if stage_id not in {s["id"] for s in ctx.upstream}:
        raise ConfigError(f"stage {ctx.stage_id}: coverage_of: {stage_id!r} is not an upstream stage "
                          "of this one")
    path = ctx.run_dir / stage_id / TAGS_FILE
    if not path.is_file():
        raise ConfigError(f"stage {ctx.stage_id}: coverage_of: {path} not found "
                          f"(is {stage_id!r} a tag stage?)")
    return list(json.loads(path.read_text(encoding="utf-8"))["tags"])


def run(ctx: StageContext, inputs: list[StageInput], p: TagParams) -> Iterator[Item]:
    reasks = reask_limit(ctx, p.reasks)
    reference = reference_tags(ctx, p.coverage_of) if p.coverage_of else None

    def workflows():
        for inp in inputs:
            for rec in inp:
                async def one(ask: AsyncAsk, rec: Record = rec):
                    return await ask_parsed(ask, tag_messages(rec.turns("user")), parse_tag_reply,
                                            "tag_reask", reasks)
                yield one

    vocab, found = TagVocabulary(), []
    for out in in_order(ctx, workflows()):
        ctx.count("reasked", max(len(out.raw) - 1, 0))
        found.append(vocab.add(t for t, _ in out.value) if out.ok else out)
    merge_tags(ctx, vocab, [{tag_key(c) for c in got} for got in found if isinstance(got, list)], p)
    records = (rec for inp in inputs for rec in inp)
    tagged = []
    for rec, got in zip(records, found):
        if not isinstance(got, list):
            yield rejection(rec, got, "tag")
            continue
        tags = vocab.normalise(got, p.min_count)
        tagged.append(tags)
        yield with_scores(rec, {"instag_complexity": len(tags)}, tags=tags)
    if len(found) == sum(inp.count for inp in inputs):    # not in a dry run, which answers nothing
        write_summary(ctx, vocab, tagged, p, reference)


def merge_tags(ctx: StageContext, vocab: TagVocabulary, record_keys: list[set[str]], p: TagParams) -> None:
    """InsTag's semantic, then association merges over the stage's whole vocabulary."""
    if p.semantic_merge is not None and vocab.records:
        keys = sorted(vocab.records, key=lambda k: (-vocab.records[k], k))
        texts = [vocab.shown(k) for k in keys]
        vectors = embedder_for(p, ctx.recipe_dir).embed(texts)
        mapping = semantic_merges(keys, texts, vectors, vocab.records, p.semantic_merge)
        vocab.merge(mapping, record_keys)
        ctx.count("tags_merged_semantic", len(mapping))
    if p.association_merge and vocab.records:
        finals = [{vocab.final(k) for k in keys} for keys in record_keys]
        mapping = association_merges(finals, vocab.records, p.min_support, p.confidence)
        vocab.merge(mapping, record_keys)
        ctx.count("tags_merged_association", len(mapping))


def write_summary(ctx: StageContext, vocab: TagVocabulary, tagged: list[list[str]], p: TagParams,
                  reference: list[str] | None) -> None:
    counts = vocab.counts(p.min_count)
    summary = {"records": len(tagged), "unique_tags": len(counts),
               "complexity": round(sum(map(len, tagged)) / len(tagged), 4) if tagged else 0.0}
    if reference is not None:
        summary["coverage_of"] = p.coverage_of
        summary["coverage"] = round(coverage(counts, reference), 4)
    summary["tags"] = counts
    atomic_write_json(ctx.stage_dir / TAGS_FILE, summary)
    ctx.count("tags_unique", len(counts))


SPEC = OpSpec(
    name="tag", fn=run, params=TagParams, version=2, min_inputs=1, uses_llm=True, prompts=TAG_PROMPTS,
    doc="InsTag intention tags (JSON list) per record, normalised (clean, stem, semantic and association "
        "merges, min_count); "
        "complexity = tags per record; tags.json with counts and coverage of an upstream tag stage.",
)
