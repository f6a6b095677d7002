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
from dataclasses import replace
from typing import Iterator

import orjson

from pydantic import Field

from pipeline.embed import EmbedParams, embedder_for
from pipeline.errors import ConfigError
from pipeline.jsonl import atomic_write_json, read_jsonl
from pipeline.llm.types import AsyncAsk, Reply
from pipeline.ops.base import Item, OpSpec, ShardSteps, StageContext, StageInput
from pipeline.record import Record, Rejected
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


def ask_tags(ctx: StageContext, records, p: TagParams):
    """Each record's reply, in input order: its raw tags (a list) or the failed Outcome."""
    reasks = reask_limit(ctx, p.reasks)

    def workflows():
        for rec in records:
            async def one(ask: AsyncAsk, rec: Record = rec):
                return await ask_parsed(ask, tag_messages(rec.turns("user")), parse_tag_reply,
                                        "tag_reask", reasks)
            yield one

    for out in in_order(ctx, workflows()):
        ctx.count("reasked", max(len(out.raw) - 1, 0))
        yield [t for t, _ in out.value] if out.ok else out


def run(ctx: StageContext, inputs: list[StageInput], p: TagParams) -> Iterator[Item]:
    reference = reference_tags(ctx, p.coverage_of) if p.coverage_of else None
    vocab, found = TagVocabulary(), []
    for got in ask_tags(ctx, (rec for inp in inputs for rec in inp), p):
        found.append(vocab.add(got) if isinstance(got, list) else got)
    merge_tags(ctx, vocab, [{tag_key(c) for c in got} for got in found if isinstance(got, list)], p)
    records = (rec for inp in inputs for rec in inp)
    tagged = [vocab.normalise(got, p.min_count) if isinstance(got, list) else got for got in found]
    yield from emit(records, tagged)
    if len(found) == sum(inp.count for inp in inputs):    # not in a dry run, which answers nothing
        write_summary(ctx, vocab, [t for t in tagged if isinstance(t, list)], p, reference)


def emit(records, tagged) -> Iterator[Item]:
    for rec, tags in zip(records, tagged):
        if isinstance(tags, list):
            yield with_scores(rec, {"instag_complexity": len(tags)}, tags=tags)
        else:
            yield tags if isinstance(tags, Rejected) else rejection(rec, tags, "tag")


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


# -- over shards (`run --workers N`): each worker asks for its shard's tags (map); the driver builds
# the stage's vocabulary, merges and summary from all of them in input order (reduce); each shard
# writes its records with the normalised tags (apply)
RAW, FINAL = "tags_raw.jsonl", "tags_final.jsonl"


def map_shard(ctx: StageContext, inp: StageInput, p: TagParams, folder) -> None:
    with open(folder / RAW, "wb") as out:
        for rec, got in zip(inp, ask_tags(ctx, inp, p)):
            line = {"tags": got} if isinstance(got, list) else {"rejected": rejection(rec, got, "tag").to_dict()}
            out.write(orjson.dumps(line) + b"\n")


def reduce_shards(ctx: StageContext, shards, n: int, p: TagParams) -> None:
    reference = reference_tags(ctx, p.coverage_of) if p.coverage_of else None
    vocab, found = TagVocabulary(), []
    for i in range(n):
        for _, line in read_jsonl(shards / f"{i:05d}" / RAW, trusted=True):
            found.append((i, vocab.add(line["tags"]) if "tags" in line else None))
    merge_tags(ctx, vocab, [{tag_key(c) for c in got} for _, got in found if got is not None], p)
    tagged = [(i, None if got is None else vocab.normalise(got, p.min_count)) for i, got in found]
    for i in range(n):
        (shards / f"{i:05d}" / FINAL).write_bytes(b"".join(orjson.dumps(t) + b"\n" for j, t in tagged if j == i))
    write_summary(replace(ctx, stage_dir=shards.parent), vocab, [t for _, t in tagged if t is not None], p,
                  reference)


def apply_shard(ctx: StageContext, inp: StageInput, p: TagParams, offset: int) -> Iterator[Item]:
    raw = (line for _, line in read_jsonl(ctx.stage_dir / RAW, trusted=True))
    final = (tags for _, tags in read_jsonl(ctx.stage_dir / FINAL, trusted=True))
    tagged = (tags if tags is not None else rejected_item(line["rejected"]) for line, tags in zip(raw, final))
    yield from emit(inp, tagged)


def rejected_item(d: dict) -> Rejected:
    """A rejection the map step wrote, as the item it was."""
    rec = d["record"]
    extra = {k: v for k, v in d.items() if k not in ("reason", "detail", "record")}
    return Rejected(d["reason"], d.get("detail", ""), record=Record(rec["id"], rec["messages"], rec.get("meta") or {}),
                    extra=extra)


SPEC = replace(SPEC, shard_steps=ShardSteps(map_shard, reduce_shards, apply_shard, context=True))
